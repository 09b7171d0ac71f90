/**
 * docs/token-format.md is enough for a third party: jose alone (with the secret) opens our tokens, and
 * tokens jose builds from the document are accepted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'tap'
import { TEST_SECRET } from '../helper.js'
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
  t.same(Object.keys((await joseOpen(reordered, 'access', undefined, NOW)).header), ['typ', 'alg'], 'the JWS header really is in another order')
  t.same(codec.verify('access', reordered, NOW), { ok: true, claims: accessClaims() })
  const withKid = await joseToken({ kind: 'access', claims: accessClaims(), jwsHeader: { alg: 'HS256', typ: 'at+jwt', kid: 'k1' } })
  t.equal((await joseOpen(withKid, 'access', undefined, NOW)).header['kid'], 'k1', 'jose accepts a JWS header with a kid')
  t.same(codec.verify('access', withKid, NOW), { ok: false, reason: 'signature' }, 'we accept exactly alg and typ')
})

test('auth_time, login_time and amr of a real session survive both directions', async (t) => {
  const codec = await makeCodec(t)
  const claims = accessClaims({ auth_time: NOW - 30, login_time: NOW - 3000, amr: ['pwd', 'otp'] })
  t.same((await joseOpen(codec.mint('access', claims as unknown as AccessClaims), 'access', undefined, NOW)).claims, claims)
  t.same(codec.verify('access', await joseToken({ kind: 'access', claims }), NOW), { ok: true, claims })
  const refresh = refreshClaims({ auth_time: NOW - 30, login_time: NOW - 3000, amr: ['pwd'] })
  t.same(codec.verify('refresh', await joseToken({ kind: 'refresh', claims: refresh }), NOW), { ok: true, claims: refresh })
})

test('a non-ASCII claim (UTF-8 in the payload) survives both directions', async (t) => {
  const codec = await makeCodec(t)
  const claims = accessClaims({ username: 'zoë 🐝', roles: ['rédacteur'] })
  t.same(codec.verify('access', await joseToken({ kind: 'access', claims }), NOW), { ok: true, claims })
  t.same((await joseOpen(codec.mint('access', claims as unknown as AccessClaims), 'access', undefined, NOW)).claims, claims)
})

test('the jose example in docs/token-format.md runs as written and opens a real token', async (t) => {
  const doc = readFileSync('docs/token-format.md', 'utf8')
  const example = /## Example: open a token with jose\n\n```js\n([\s\S]*?)```/.exec(doc)?.[1]
  t.ok(example, 'the example is in the document')
  const dir = join('.tap', 'doc-examples')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `token-format-${process.pid}.mjs`)
  writeFileSync(file, `${example as string}\nexport { openAccessToken }\n`)
  const codec = await makeCodec(t)
  const now = Math.floor(Date.now() / 1000)
  const token = codec.mint('access', accessClaims({ iat: now, exp: now + 900, auth_time: now - 5, login_time: now - 60, amr: ['pwd', 'otp'] }) as unknown as AccessClaims)
  const previous = process.env['SESSION_SECRET']
  process.env['SESSION_SECRET'] = TEST_SECRET
  // The example reads the secret the way a third party would, from its environment.
  t.teardown(() => {
    if (previous === undefined) delete process.env['SESSION_SECRET']
    else process.env['SESSION_SECRET'] = previous
  })
  const { openAccessToken } = await import(pathToFileURL(file).href) as { openAccessToken: (token: string) => Promise<Record<string, unknown>> }
  const payload = await openAccessToken(token)
  t.match(payload, { sub: 'user-1', username: 'alice', roles: ['admin'], auth_time: now - 5, login_time: now - 60, amr: ['pwd', 'otp'] })
})
