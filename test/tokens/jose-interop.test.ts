/**
 * docs/token-format.md is enough for a third party: jose alone (with the secret) opens our tokens, and
 * tokens jose builds from the document are accepted.
 */
import { test } from 'tap'
import type { AccessClaims, RefreshClaims } from '../../src/tokens/claims.js'
import { accessClaims, joseOpen, joseToken, makeCodec, NOW, refreshClaims } from './token-kit.js'

test('jose opens our tokens by following docs/token-format.md', async (t) => {
  const codec = await makeCodec(t)
  const access = codec.mint('access', accessClaims() as unknown as AccessClaims)
  const opened = await joseOpen(access, 'access', undefined, NOW)
  t.same(opened.outer, { alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: opened.outer.kid })
  t.match(opened.outer.kid, /^[A-Za-z0-9_-]{8}\.\d+$/)
  t.same(opened.header, { alg: 'HS256', typ: 'at+jwt' })
  t.same(opened.claims, accessClaims())

  const refresh = codec.mint('refresh', refreshClaims() as unknown as RefreshClaims)
  const openedRefresh = await joseOpen(refresh, 'refresh', undefined, NOW)
  t.same(openedRefresh.header, { alg: 'HS256', typ: 'rt+jwt' })
  t.same(openedRefresh.claims, refreshClaims())
})

test('tokens built with jose from docs/token-format.md are accepted', async (t) => {
  const codec = await makeCodec(t)
  const access = await joseToken({ kind: 'access', claims: accessClaims() })
  t.same(codec.verify('access', access, NOW), { ok: true, claims: accessClaims() })
  const refresh = await joseToken({ kind: 'refresh', claims: refreshClaims() })
  t.same(codec.verify('refresh', refresh, NOW), { ok: true, claims: refreshClaims() })
})

test('a jose token with the header members in another order is accepted (members, not bytes, are checked)', async (t) => {
  const codec = await makeCodec(t)
  const token = await joseToken({ kind: 'access', claims: accessClaims(), jweHeader: { kid: undefined } })
  t.equal(codec.verify('access', token, NOW).ok, false, 'a header without kid is refused')
  const reordered = await joseToken({ kind: 'access', claims: accessClaims(), jwsHeader: { typ: 'at+jwt', alg: 'HS256' } })
  t.equal(codec.verify('access', reordered, NOW).ok, true)
})
