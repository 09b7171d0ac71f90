import { test } from 'tap'
import type { AccessClaims, RefreshClaims } from '../../src/tokens/claims.js'
import { isCanonicalBase64url } from '../../src/tokens/base64url.js'
import { jweHeader, parseCompactJwe } from '../../src/tokens/jwe.js'
import { KEY_EPOCH_SECONDS, KeyRing } from '../../src/tokens/keys.js'
import { TEST_SECRET } from '../helper.js'
import { accessClaims, docKey, docKid, joseToken, makeCodec, NOW, refreshClaims, RULES } from './token-kit.js'
import * as jose from 'jose'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** The same 6-bit digit with its lowest (unused, for a 16-byte tail) bit set: another spelling of the tag. */
const setLowBit = (c: string): string => ALPHABET[ALPHABET.indexOf(c) | 1] as string
/** The inner JWS of a token built by jose (the JWE layer opened again with the documented key). */
async function joseInner (claims: Record<string, unknown>): Promise<string> {
  const token = await joseToken({ kind: 'access', claims })
  const { plaintext } = await jose.compactDecrypt(token, docKey(TEST_SECRET, `stateless-session/v1 access jwe ${Math.floor(NOW / 3600)}`))
  return new TextDecoder().decode(plaintext)
}

/** Any text, encrypted by jose as a valid outer layer of an access token at NOW. */
async function joseEncrypt (plaintext: string): Promise<string> {
  const epoch = Math.floor(NOW / 3600)
  return await new jose.CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: docKid(TEST_SECRET, epoch) })
    .encrypt(docKey(TEST_SECRET, `stateless-session/v1 access jwe ${epoch}`))
}

const OTHER_SECRET = 'another-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789'

test('a minted token verifies, as its own kind only', async (t) => {
  const codec = await makeCodec(t)
  const access = codec.mint('access', accessClaims() as unknown as AccessClaims)
  const refresh = codec.mint('refresh', refreshClaims() as unknown as RefreshClaims)
  t.same(codec.verify('access', access, NOW), { ok: true, claims: accessClaims() })
  t.same(codec.verify('refresh', refresh, NOW), { ok: true, claims: refreshClaims() })
  t.same(codec.verify('access', refresh, NOW), { ok: false, reason: 'decrypt' }, 'a refresh token is no access token')
  t.same(codec.verify('refresh', access, NOW), { ok: false, reason: 'decrypt' }, 'an access token is no refresh token')
  t.not(codec.mint('access', accessClaims() as unknown as AccessClaims), access, 'a fresh IV every time')
})

test('the verify failure reasons, layer by layer', async (t) => {
  const codec = await makeCodec(t)
  const good = codec.mint('access', accessClaims() as unknown as AccessClaims)
  const [header = '', , iv = '', ciphertext = '', tag = ''] = good.split('.')
  const flip = (s: string): string => (s[0] === 'A' ? 'B' : 'A') + s.slice(1)
  const signedWithWrongKey = await joseToken({ kind: 'access', claims: accessClaims(), signingKey: new Uint8Array(32) })
  const cases: Array<[string, string, string]> = [
    ['empty', '', 'malformed'],
    ['four segments', `${header}..${iv}.${ciphertext}`, 'malformed'],
    ['six segments', `${good}.${tag}`, 'malformed'],
    ['non-empty key segment', `${header}.AAAA.${iv}.${ciphertext}.${tag}`, 'malformed'],
    ['short iv', `${header}..${iv.slice(4)}.${ciphertext}.${tag}`, 'malformed'],
    ['padding', `${good}==`, 'malformed'],
    ['whitespace', ` ${good}`, 'malformed'],
    ['too long', `${header}..${iv}.${'A'.repeat(5000)}.${tag}`, 'malformed'],
    ['non-canonical tag bits', `${header}..${iv}.${ciphertext}.${tag.slice(0, -1)}${setLowBit(tag.at(-1) as string)}`, 'malformed'],
    ['non-canonical ciphertext length', `${header}..${iv}.${ciphertext}A.${tag}`, 'malformed'],
    ['header not JSON', `${Buffer.from('{"alg":').toString('base64url')}..${iv}.${ciphertext}.${tag}`, 'malformed'],
    ['header an array', `${Buffer.from('["dir"]').toString('base64url')}..${iv}.${ciphertext}.${tag}`, 'malformed'],
    ['header with zip', `${Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: 'x', zip: 'DEF' })).toString('base64url')}..${iv}.${ciphertext}.${tag}`, 'malformed'],
    ['header alg none', `${Buffer.from(JSON.stringify({ alg: 'none', enc: 'A256GCM', cty: 'JWT', kid: 'x' })).toString('base64url')}..${iv}.${ciphertext}.${tag}`, 'malformed'],
    ['kid of an unknown secret', `${jweHeader(`AAAAAAAA.${Math.floor(NOW / KEY_EPOCH_SECONDS)}`)}..${iv}.${ciphertext}.${tag}`, 'unknown-key'],
    ['kid epoch far in the past', `${jweHeader('AAAAAAAA.1')}..${iv}.${ciphertext}.${tag}`, 'unknown-key'],
    ['kid too long', `${jweHeader('A'.repeat(65))}..${iv}.${ciphertext}.${tag}`, 'malformed'],
    ['tampered ciphertext', `${header}..${iv}.${flip(ciphertext)}.${tag}`, 'decrypt'],
    ['tampered iv', `${header}..${flip(iv)}.${ciphertext}.${tag}`, 'decrypt'],
    ['inner JWS signed with another key', signedWithWrongKey, 'signature'],
    ['inner JWS with a non-ASCII byte (decrypts, then refused)', await joseEncrypt(`${await joseInner(accessClaims())}\u00e9`), 'signature'],
    ['inner JWS with a UTF-8 multibyte character', await joseEncrypt((await joseInner(accessClaims())).replace('.', '.\u{1F41D}')), 'signature']
  ]
  for (const [name, token, reason] of cases) {
    t.same(codec.verify('access', token, NOW), { ok: false, reason }, name)
  }
  t.same(codec.verify('access', await joseEncrypt(await joseInner(accessClaims())), NOW), { ok: true, claims: accessClaims() }, 'control: the helpers build a valid token')
})

test('time: expiry with leeway, iat in the future, nbf', async (t) => {
  const codec = await makeCodec(t)
  const token = codec.mint('access', accessClaims() as unknown as AccessClaims)
  t.equal(codec.verify('access', token, NOW + 900 + 29).ok, true, 'inside the leeway')
  t.same(codec.verify('access', token, NOW + 900 + 30), { ok: false, reason: 'expired' })
  t.same(codec.verify('access', token, NOW - 31), { ok: false, reason: 'not-yet-valid' }, 'iat beyond the leeway')
  t.equal(codec.verify('access', token, NOW - 30).ok, true, 'iat within the leeway')
  const nbf = await joseToken({ kind: 'access', claims: accessClaims({ nbf: NOW + 100 }) })
  t.same(codec.verify('access', nbf, NOW), { ok: false, reason: 'not-yet-valid' })
  t.equal(codec.verify('access', nbf, NOW + 100).ok, true)
})

test('claims: required, typed, bounded', async (t) => {
  const codec = await makeCodec(t)
  const cases: Array<[string, Record<string, unknown>]> = [
    ['wrong iss', { iss: 'someone-else' }],
    ['wrong aud', { aud: 'someone-else' }],
    ['aud as array', { aud: [RULES.audience] }],
    ['missing sub', { sub: undefined }],
    ['array sub', { sub: ['user-1'] }],
    ['long sub', { sub: 'x'.repeat(129) }],
    ['short jti', { jti: 'abc' }],
    ['missing sid', { sid: undefined }],
    ['string exp', { exp: String(NOW + 900) }],
    ['fractional iat', { iat: NOW + 0.5 }],
    ['negative auth_time', { auth_time: -1 }],
    ['missing auth_time', { auth_time: undefined }],
    ['string nbf', { nbf: 'soon' }],
    ['exp before iat', { exp: NOW - 1 }],
    ['lifetime longer than an access token may have', { exp: NOW + 901 }],
    ['auth_time after iat', { auth_time: NOW + 1 }],
    ['outlives the absolute session', { iat: NOW, auth_time: NOW - RULES.maxAge + 10, login_time: NOW - RULES.maxAge + 10 }],
    ['outlives the absolute session from login_time, auth_time renewed', { iat: NOW, auth_time: NOW, login_time: NOW - RULES.maxAge + 10 }],
    ['login_time after auth_time', { login_time: NOW + 1, auth_time: NOW }],
    ['string login_time', { login_time: String(NOW) }],
    ['amr not an array', { amr: 'pwd' }],
    ['amr empty', { amr: [] }],
    ['amr with a number', { amr: ['pwd', 1] }],
    ['amr with an odd value', { amr: ['PWD'] }],
    ['amr too long', { amr: Array.from({ length: 9 }, () => 'otp') }],
    ['username missing', { username: undefined }],
    ['roles not an array', { roles: 'admin' }],
    ['a role not a string', { roles: [1] }],
    ['too many roles', { roles: Array.from({ length: 33 }, (_, i) => `r${i}`) }]
  ]
  for (const [name, change] of cases) {
    const claims = accessClaims(change)
    for (const key of Object.keys(change)) if (change[key] === undefined) delete claims[key]
    const token = await joseToken({ kind: 'access', claims })
    t.same(codec.verify('access', token, NOW), { ok: false, reason: 'claims' }, name)
  }
  const exp1e400 = (await joseToken({ kind: 'access', claims: accessClaims() }))
  t.equal(codec.verify('access', exp1e400, NOW).ok, true, 'control: the unbent token passes')
})

test('a token from before auth_time was renewable (no login_time, no amr) is read as a password login at auth_time', async (t) => {
  const codec = await makeCodec(t)
  const claims = accessClaims({ iat: NOW, auth_time: NOW - 100 })
  delete claims['login_time']
  delete claims['amr']
  t.same(codec.verify('access', await joseToken({ kind: 'access', claims }), NOW), { ok: true, claims: { ...claims, login_time: NOW - 100, amr: ['pwd'] } })
  const renewed = accessClaims({ iat: NOW, auth_time: NOW - 10, login_time: NOW - 100, amr: ['pwd', 'otp'] })
  t.same(codec.verify('access', await joseToken({ kind: 'access', claims: renewed }), NOW), { ok: true, claims: renewed }, 'auth_time after login_time')
})

test('a payload with prototype keys yields only the known claims', async (t) => {
  const codec = await makeCodec(t)
  const claims = JSON.parse(`{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},${JSON.stringify(accessClaims()).slice(1)}`) as Record<string, unknown>
  const result = codec.verify('access', await joseToken({ kind: 'access', claims }), NOW)
  t.equal(result.ok, true)
  t.same(Object.keys(result.ok ? result.claims : {}).sort(), Object.keys(accessClaims()).sort())
  t.equal(({} as Record<string, unknown>)['admin'], undefined, 'no prototype pollution')
})

test('secret rotation: previous secrets verify, new tokens use the current one, retired ones fail', async (t) => {
  const old = await makeCodec(t, OTHER_SECRET)
  const oldToken = old.mint('refresh', refreshClaims() as unknown as RefreshClaims)
  const rotated = await makeCodec(t, TEST_SECRET, [OTHER_SECRET])
  t.same(rotated.verify('refresh', oldToken, NOW), { ok: true, claims: refreshClaims() }, 'a token under the previous secret is accepted')
  const fresh = rotated.mint('refresh', refreshClaims() as unknown as RefreshClaims)
  t.equal(old.verify('refresh', fresh, NOW).ok, false, 'new tokens are under the current secret')
  const retired = await makeCodec(t, TEST_SECRET)
  t.same(retired.verify('refresh', oldToken, NOW), { ok: false, reason: 'unknown-key' }, 'once retired, refused')
})

test('key epochs: a kid outside the window of its kind is refused', async (t) => {
  const codec = await makeCodec(t)
  const epoch = Math.floor(NOW / KEY_EPOCH_SECONDS)
  const future = await joseToken({ kind: 'access', claims: accessClaims(), epoch: epoch + 2 })
  t.same(codec.verify('access', future, NOW), { ok: false, reason: 'unknown-key' })
  const ancient = await joseToken({ kind: 'access', claims: accessClaims(), epoch: epoch - 2 })
  t.same(codec.verify('access', ancient, NOW), { ok: false, reason: 'unknown-key' }, 'older than any live access token')
  const oldRefresh = await joseToken({ kind: 'refresh', claims: refreshClaims(), epoch: epoch - 100 })
  t.equal(codec.verify('refresh', oldRefresh, NOW).ok, true, 'refresh tokens live longer: still a known key')
  const badKid = await joseToken({ kind: 'access', claims: accessClaims(), jweHeader: { kid: '../../etc/passwd' } })
  t.same(codec.verify('access', badKid, NOW), { ok: false, reason: 'unknown-key' })
})

test('the key ring derives each key once, skips duplicate secrets and bounds its cache', async (t) => {
  const ring = new KeyRing({ current: Buffer.from(TEST_SECRET), previous: [Buffer.from(TEST_SECRET)], maxLifetime: { access: 900, refresh: 3600 * 5000 }, leewaySeconds: 0 })
  t.equal(ring.entries.length, 1, 'the same secret twice is one entry')
  const first = ring.encryptionKeyFor('access', NOW)
  t.equal(ring.encryptionKeyFor('access', NOW + 1), first, 'cached within the epoch')
  t.equal(ring.encryptionKeyForKid('access', first.kid, NOW), first)
  const now = 5000 * 3600
  for (let epoch = 0; epoch <= 5000; epoch++) ring.encryptionKeyForKid('refresh', `${ring.current.fingerprint}.${epoch}`, now)
  t.ok(ring.encryptionKeyForKid('refresh', `${ring.current.fingerprint}.1`, now), 'derived again after the cache was cleared')
})

test('base64url canonical form and the compact parser', async (t) => {
  t.equal(isCanonicalBase64url('AB'), false, 'trailing bits set')
  t.equal(isCanonicalBase64url('AA'), true)
  t.equal(isCanonicalBase64url('AQ'), true)
  t.equal(isCanonicalBase64url('AQE'), true)
  t.equal(isCanonicalBase64url('AQF'), false)
  t.equal(isCanonicalBase64url('A'), false, 'impossible length')
  t.equal(isCanonicalBase64url('AAAA'), true)
  t.equal(parseCompactJwe('a.b.c'), undefined)
  t.equal(parseCompactJwe('AB..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'), undefined, 'non-canonical header')
})

test('the header caches stay bounded', async (t) => {
  const iv = 'AAAAAAAAAAAAAAAA'
  const tag = 'AAAAAAAAAAAAAAAAAAAAAA'
  for (let i = 0; i < 1100; i++) {
    t.equal(parseCompactJwe(`${jweHeader(`kid${i}`)}..${iv}.AAAA.${tag}`)?.kid, `kid${i}`)
  }
  t.equal(parseCompactJwe(`${jweHeader('kid0')}..${iv}.AAAA.${tag}`)?.kid, 'kid0', 'parsed again after eviction')
})
