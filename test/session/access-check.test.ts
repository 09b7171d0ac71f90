/**
 * The access decision in one place: invalid, revoked and stale are told apart, and staleness never turns a
 * refused token into a session nor hides a known revocation.
 */
import { test } from 'tap'
import { AccessCheck } from '../../src/session/access-check.js'
import { Denylist } from '../../src/session/denylist.js'
import type { AccessClaims } from '../../src/tokens/claims.js'
import { accessClaims, makeCodec, NOW } from '../tokens/token-kit.js'

test('valid, stale, revoked and invalid: one decision', async (t) => {
  const codec = await makeCodec(t)
  const denylist = new Denylist()
  let stale = false
  for (const cacheSize of [0, 10]) {
    const check = new AccessCheck({
      codec,
      denylist,
      clock: () => NOW * 1000,
      lifetimes: { refreshIdleTtl: 604800, maxAge: 2592000, leeway: 30 },
      verifiedTokenCacheSize: cacheSize,
      isStale: () => stale
    })
    const claims = accessClaims({ jti: `token-of-cache-${cacheSize}`, sid: `family-of-cache-${cacheSize}` }) as unknown as AccessClaims
    const token = codec.mint('access', claims)
    stale = false
    for (let i = 0; i < 3; i++) t.match(check.check(token), { id: claims.sid, user: { id: claims.sub } }, `cache ${cacheSize}: valid (${i})`)
    stale = true
    t.equal(check.check(token), 'stale', `cache ${cacheSize}: a valid token while the view is stale is neither accepted nor refused`)
    t.equal(check.check(token.slice(0, -2) + 'AA'), 'decrypt', `cache ${cacheSize}: a tampered token is refused, stale or not`)
    t.equal(check.check('not a token'), 'malformed', `cache ${cacheSize}: garbage is refused, stale or not`)
    denylist.add({ kind: 'family', id: claims.sid, expiresAt: NOW + 3600 })
    t.equal(check.check(token), 'revoked', `cache ${cacheSize}: a known revocation is enforced even while stale`)
    stale = false
    t.equal(check.check(token), 'revoked', `cache ${cacheSize}: and when fresh`)
  }
})
