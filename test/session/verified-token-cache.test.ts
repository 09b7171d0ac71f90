/**
 * The verified-token cache of SessionService.authenticate: admits a token at its second verification,
 * bounded, first in first out, and never a way around expiry or revocation. Which tokens it holds is observed by counting the decryptions it saves.
 */
import { test, type Test } from 'tap'
import { Denylist } from '../../src/session/denylist.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { SessionService } from '../../src/session/session-service.js'
import type { TokenCodec } from '../../src/tokens/token-codec.js'
import { ManualClock } from '../helper.js'
import { makeCodec } from '../tokens/token-kit.js'

async function setup (t: Test, cacheSize: number): Promise<{ service: SessionService, clock: ManualClock, denylist: Denylist, verifications: () => number, tokens: string[] }> {
  const codec = await makeCodec(t)
  let count = 0
  const counting = new Proxy(codec, {
    get (target, key) {
      if (key === 'verify') return (...args: Parameters<TokenCodec['verify']>) => { count++; return (target.verify as (...a: unknown[]) => unknown)(...args) }
      const value = Reflect.get(target, key) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  }) as TokenCodec
  const clock = new ManualClock()
  const denylist = new Denylist()
  const service = new SessionService({
    codec: counting,
    store: new MemorySessionStore(),
    denylist,
    clock: clock.now,
    lifetimes: { accessTtl: 900, refreshIdleTtl: 604800, maxAge: 2592000, grace: 10, leeway: 30 },
    verifyCredentials: async (username) => ({ id: username, username, roles: [] }),
    verifiedTokenCacheSize: cacheSize,
    maxTokenLength: 4000
  })
  const tokens: string[] = []
  for (let i = 0; i < 5; i++) {
    const result = await service.login(`user-${i}`, 'pw', { userAgent: null, address: null })
    tokens.push(result.status === 'issued' ? result.session.access.token : '')
  }
  return { service, clock, denylist, verifications: () => count, tokens }
}

test('a token enters the cache the second time it is verified', async (t) => {
  const { service, verifications, tokens } = await setup(t, 10)
  for (let i = 0; i < 4; i++) t.type(service.authenticate(tokens[0] as string), 'object')
  t.equal(verifications(), 2, 'verified at first and second sight, then served from the cache')
})

test('bounded, first in first out: the oldest token is verified again, the newest are not', async (t) => {
  const { service, verifications, tokens } = await setup(t, 3)
  for (const token of tokens) {
    service.authenticate(token)
    service.authenticate(token)
  }
  t.equal(verifications(), 10, 'each token verified twice, then admitted')
  for (const token of tokens.slice(2)) service.authenticate(token)
  t.equal(verifications(), 10, 'the three newest are cached')
  service.authenticate(tokens[0] as string)
  t.equal(verifications(), 11, 'the oldest was evicted (and, seen before, goes straight back in)')
  // Token 0 went back in and pushed out token 2, the oldest of the ring at that point.
  service.authenticate(tokens[2] as string)
  t.equal(verifications(), 12, 'eviction keeps going round in insertion order')
  service.authenticate(tokens[0] as string)
  t.equal(verifications(), 12, 'the re-added token is cached')
})

test('a cached token is still refused once revoked or expired, and an expired one leaves the cache', async (t) => {
  const { service, clock, denylist, verifications, tokens } = await setup(t, 10)
  service.authenticate(tokens[0] as string)
  const info = service.authenticate(tokens[0] as string)
  if (typeof info === 'string') throw new Error(info)
  denylist.add({ kind: 'token', id: info.tokenId, expiresAt: info.accessExpiresAt })
  t.equal(service.authenticate(tokens[0] as string), 'revoked', 'revocation checked on a hit')
  t.equal(verifications(), 2)
  service.authenticate(tokens[1] as string)
  service.authenticate(tokens[1] as string)
  clock.advance(900 + 30)
  t.equal(service.authenticate(tokens[1] as string), 'expired', 'expiry checked on a hit')
  t.equal(verifications(), 4)
  t.equal(service.authenticate(tokens[1] as string), 'expired', 'and checked by full verification after it left the cache')
  t.equal(verifications(), 5)
})

test('a token sharing a cached token\'s tag but not its text is verified in full, and refused', async (t) => {
  const { service, verifications, tokens } = await setup(t, 10)
  const token = tokens[0] as string
  service.authenticate(token)
  service.authenticate(token)
  t.equal(verifications(), 2, 'cached')
  // Same last 22 characters (the GCM tag, the cache key), one character of the ciphertext changed.
  const ciphertextAt = token.lastIndexOf('.') - 5
  const forged = token.slice(0, ciphertextAt) + (token[ciphertextAt] === 'A' ? 'B' : 'A') + token.slice(ciphertextAt + 1)
  t.equal(forged.slice(-22), token.slice(-22))
  t.equal(service.authenticate(forged), 'decrypt', 'refused by the full check')
  t.equal(verifications(), 3)
  t.type(service.authenticate(token), 'object', 'the genuine token is still served from the cache')
  t.equal(verifications(), 3)
})

test('size 0 turns the cache off', async (t) => {
  const { service, verifications, tokens } = await setup(t, 0)
  for (let i = 0; i < 3; i++) service.authenticate(tokens[0] as string)
  t.equal(verifications(), 3)
})
