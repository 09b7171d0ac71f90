/**
 * Hostile tokens, built with the real keys so each reaches the check it targets (docs/security.md rules 1-6):
 * header algorithm tricks on both layers, key-from-token headers, kid tricks, format tricks, claim types and
 * times, token-kind substitution and prototype keys. Each case asserts the exact failure reason in process
 * (SessionService.authenticate / refresh) and the one identical 401 over HTTP. The whole table runs with the
 * verified-token cache on and off.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { TEST_SECRET } from '../helper.js'
import { alterTrailingBits, b64, encryptionKey, epochOf, Forge, jwe, jws, signingKey, withSegment, type Kind, type TokenOptions } from './forge.js'
import { ACCESS, assertInvalid, REFRESH, refreshWith, securityApp, sessionWith } from './kit.js'

const LIFETIME: Record<Kind, number> = { access: 900, refresh: 604800 }
const LEEWAY = 30
const OTHER_SECRET = 'another-secret-9876543210-zyxwvutsrqponmlkjihgfedcba'

interface Ctx {
  forge: Forge
  now: number
  epoch: number
  /** Real tokens of alice's session. */
  real: Record<Kind, string>
  /** Their claims, as minted by the service. */
  claims: Record<Kind, Record<string, unknown>>
  /** An attacker's key server: any request to it fails the test. */
  jwksUrl: string
}

interface Case {
  name: string
  /** Expected failure reason; 'ok' for a token that must be accepted (and stay inert). */
  reason: string
  kinds?: Kind[]
  /** false: characters a Cookie header cannot carry (checked in process only). */
  http?: boolean
  build: (kind: Kind, c: Ctx) => string
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const attackerJwk = rsa.publicKey.export({ format: 'jwk' })

/** A token of `kind` from the real claims, with some claims changed (undefined deletes). */
function withClaims (kind: Kind, c: Ctx, changes: Record<string, unknown>, options: TokenOptions = {}): string {
  const claims = { ...c.claims[kind] }
  const iat = typeof changes['iat'] === 'number' ? changes['iat'] : c.claims[kind]['iat'] as number
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) Reflect.deleteProperty(claims, key)
    else claims[key] = value
  }
  return c.forge.token(kind, claims, { epoch: epochOf(iat), ...options })
}

/** Real claims serialised, then edited as JSON text (for values JSON.stringify cannot produce). */
function rawClaims (kind: Kind, c: Ctx, edit: (json: string) => string): string {
  return c.forge.token(kind, c.claims[kind], { rawPayload: edit(JSON.stringify(c.claims[kind])) })
}

function oldestEpoch (kind: Kind, now: number): number {
  return Math.floor((now - LIFETIME[kind] - LEEWAY) / 3600)
}

function rsaSigned (header: Record<string, unknown>, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${sign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url')}`
}

const cases: Case[] = [
  // Controls: the forge builds exactly what the service builds, so every case below differs in one way only.
  { name: 'control: a forged token with the real claims is accepted', reason: 'ok', kinds: ['access'], build: (k, c) => withClaims(k, c, {}) },
  { name: 'control: iat at the edge of the leeway is accepted', reason: 'ok', kinds: ['access'], build: (k, c) => withClaims(k, c, { iat: c.now + LEEWAY, exp: c.now + LEEWAY + LIFETIME[k] - LEEWAY }) },

  // Outer layer (JWE) header: one profile only (rule 1).
  ...['none', 'NONE', 'nOnE', 'A256KW', 'RSA-OAEP-256', 'ECDH-ES', 'DIR', 'dir '].map((alg): Case => ({
    name: `JWE alg ${JSON.stringify(alg)}`, reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { alg } })
  })),
  ...['A128GCM', 'A192GCM', 'A256CBC-HS512', 'a256gcm', ''].map((enc): Case => ({
    name: `JWE enc ${JSON.stringify(enc)}`, reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { enc } })
  })),
  { name: 'JWE without alg', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { alg: undefined } }) },
  { name: 'JWE without enc', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { enc: undefined } }) },
  { name: 'JWE without cty', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { cty: undefined } }) },
  { name: 'JWE cty "jwt" (case)', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { cty: 'jwt' } }) },
  { name: 'JWE cty "JSON"', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { cty: 'JSON' } }) },
  { name: 'JWE without kid', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { kid: undefined } }) },
  { name: 'JWE kid a number', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { kid: c.epoch } }) },
  { name: 'JWE kid an array', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { kid: [c.forge.kid(c.epoch)] } }) },
  { name: 'JWE kid over 64 characters', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { kid: `${c.forge.kid(c.epoch)}${'0'.repeat(64)}` } }) },
  { name: 'JWE zip:DEF with a deflated payload', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { zip: 'DEF' }, jweOptions: { deflate: true } }) },
  { name: 'JWE crit naming an extension', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { crit: ['exp'], exp: 0 } }) },
  { name: 'JWE crit empty', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { crit: [] } }) },
  { name: 'JWE jku to an attacker key set', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { jku: c.jwksUrl } }) },
  { name: 'JWE embedded jwk', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { jwk: { kty: 'oct', k: b64(randomBytes(32)) } } }) },
  { name: 'JWE x5u', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { x5u: c.jwksUrl } }) },
  { name: 'JWE x5c', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { x5c: ['MIIB'] } }) },
  { name: 'JWE extra typ', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { outer: { typ: 'JWT' } }) },
  { name: 'JWE extra __proto__ member', reason: 'malformed', build: (k, c) => c.forge.token(k, c.claims[k], { jweOptions: { header: `{"alg":"dir","enc":"A256GCM","cty":"JWT","kid":"${c.forge.kid(c.epoch)}","__proto__":{"alg":"none"}}` } }) },
  { name: 'JWE header a JSON array', reason: 'malformed', build: (k, c) => c.forge.token(k, c.claims[k], { jweOptions: { header: ['dir', 'A256GCM'] } }) },
  { name: 'JWE header JSON null', reason: 'malformed', build: (k, c) => c.forge.token(k, c.claims[k], { jweOptions: { header: 'null' } }) },
  { name: 'JWE header not JSON', reason: 'malformed', build: (k, c) => c.forge.token(k, c.claims[k], { jweOptions: { header: '{"alg":"dir",' } }) },
  { name: 'JWE with an encrypted-key segment', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { jweOptions: { encryptedKey: b64(randomBytes(32)) } }) },
  { name: 'JWE 8-byte IV', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { jweOptions: { ivBytes: 8 } }) },
  { name: 'JWE 16-byte IV', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { jweOptions: { ivBytes: 16 } }) },
  { name: 'JWE 12-byte tag', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { jweOptions: { tagBytes: 12 } }) },
  { name: 'JWE 4-byte tag', reason: 'malformed', build: (k, c) => withClaims(k, c, {}, { jweOptions: { tagBytes: 4 } }) },

  // Key lookup: kid is a name in a fixed map, never a path or URL (rule 3); retired keys fail (rule 8).
  ...['../../../../etc/passwd', '/dev/null', 'http://127.0.0.1:1/key', 'file:///etc/hostname', '__proto__', 'constructor', 'toString', ''].map((kid): Case => ({
    name: `kid ${JSON.stringify(kid)}`, reason: 'unknown-key', build: (k, c) => withClaims(k, c, {}, { outer: { kid } })
  })),
  { name: 'kid of an unknown secret', reason: 'unknown-key', build: (k, c) => withClaims(k, c, {}, { outer: { kid: `AAAAAAAA.${c.epoch}` } }) },
  { name: 'kid epoch with a leading zero', reason: 'unknown-key', build: (k, c) => withClaims(k, c, {}, { outer: { kid: `${c.forge.kid(0).slice(0, 8)}.0${c.epoch}` } }) },
  { name: 'kid with a third part', reason: 'unknown-key', build: (k, c) => withClaims(k, c, {}, { outer: { kid: `${c.forge.kid(c.epoch)}.0` } }) },
  { name: 'kid with a negative epoch', reason: 'unknown-key', build: (k, c) => withClaims(k, c, {}, { outer: { kid: `${c.forge.kid(0).slice(0, 8)}.-1` } }) },
  { name: 'token of a retired (unknown) secret', reason: 'unknown-key', build: (k, c) => new Forge(OTHER_SECRET).token(k, c.claims[k]) },
  {
    name: 'key epoch older than any live token of the kind (retired key)',
    reason: 'unknown-key',
    build: (k, c) => {
      const old = oldestEpoch(k, c.now) - 1
      return withClaims(k, c, {}, { outer: { kid: c.forge.kid(old) }, encryptWith: encryptionKey(TEST_SECRET, k, old) })
    }
  },
  {
    name: 'key epoch in the future',
    reason: 'unknown-key',
    build: (k, c) => withClaims(k, c, {}, { outer: { kid: c.forge.kid(c.epoch + 2) }, encryptWith: encryptionKey(TEST_SECRET, k, c.epoch + 2) })
  },

  // Decryption: one bit anywhere, another key, or a header edited without re-encrypting (it is the AAD).
  { name: 'ciphertext bit flip', reason: 'decrypt', build: (k, c) => withSegment(c.real[k], 3, (s) => flipBit(s, 5)) },
  { name: 'tag bit flip', reason: 'decrypt', build: (k, c) => withSegment(c.real[k], 4, (s) => flipBit(s, 0)) },
  { name: 'IV bit flip', reason: 'decrypt', build: (k, c) => withSegment(c.real[k], 2, (s) => flipBit(s, 1)) },
  { name: 'header members reordered without re-encrypting', reason: 'decrypt', build: (k, c) => withSegment(c.real[k], 0, () => b64({ kid: c.forge.kid(c.epoch), cty: 'JWT', enc: 'A256GCM', alg: 'dir' })) },
  { name: 'encrypted under a random key', reason: 'decrypt', build: (k, c) => withClaims(k, c, {}, { encryptWith: randomBytes(32) }) },
  { name: 'encrypted under the other kind\'s key', reason: 'decrypt', build: (k, c) => withClaims(k, c, {}, { encryptWith: encryptionKey(TEST_SECRET, k === 'access' ? 'refresh' : 'access', c.epoch) }) },
  { name: 'segments spliced from the other kind\'s token', reason: 'decrypt', build: (k, c) => withSegment(c.real[k], 3, () => (c.real[k === 'access' ? 'refresh' : 'access'].split('.')[3] as string)) },

  // Inner layer (JWS): one algorithm per key, never none, signature always checked (rule 1).
  { name: 'JWE wrapping plain JSON claims', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: JSON.stringify(c.claims[k]) }) },
  { name: 'JWE wrapping a bare JWE-looking string', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: c.real[k] }) },
  ...['none', 'NONE', 'nOnE', 'None'].map((alg): Case => ({
    name: `JWS alg ${alg}, unsigned`, reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { alg }, signWith: null })
  })),
  { name: 'JWS alg none with the real HMAC still attached', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { alg: 'none' } }) },
  { name: 'JWS HS512 with the real key', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { alg: 'HS512' }, hash: 'sha512' }) },
  { name: 'JWS HS384 with the real key', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { alg: 'HS384' }, hash: 'sha384' }) },
  { name: 'JWS RS256 header, HMAC with the real key (key confusion)', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { alg: 'RS256' } }) },
  { name: 'JWS RS256 signed by the attacker, public key in jwk', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: rsaSigned({ alg: 'RS256', typ: `${k === 'access' ? 'at' : 'rt'}+jwt`, jwk: attackerJwk }, c.claims[k]) }) },
  { name: 'JWS RS256 signed by the attacker, jku to their key set', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: rsaSigned({ alg: 'RS256', typ: `${k === 'access' ? 'at' : 'rt'}+jwt`, jku: c.jwksUrl }, c.claims[k]) }) },
  { name: 'JWS HS256 by an attacker key, x5u to their certificate', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { x5u: c.jwksUrl }, signWith: randomBytes(32) }) },
  { name: 'JWS HS256 by an attacker key, x5c', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { x5c: ['MIIB'] }, signWith: randomBytes(32) }) },
  { name: 'JWS HS256 by an attacker key given in jwk', reason: 'signature', build: (k, c) => { const key = randomBytes(32); return withClaims(k, c, {}, { inner: { jwk: { kty: 'oct', k: b64(key) } }, signWith: key }) } },
  { name: 'JWS kid pointing at a file', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { kid: '../../../../dev/null' }, signWith: Buffer.alloc(0) }) },
  { name: 'JWS without alg', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { alg: undefined } }) },
  { name: 'JWS without typ', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { typ: undefined } }) },
  { name: 'JWS typ JWT', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { typ: 'JWT' } }) },
  { name: 'JWS crit with an unknown extension', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { crit: ['x-ext'], 'x-ext': true } }) },
  { name: 'JWS b64:false in crit', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { crit: ['b64'], b64: false } }) },
  { name: 'JWS signed with a key of another secret', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { signWith: signingKey(OTHER_SECRET, k) }) },
  { name: 'JWS with an empty signature', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: jws({ alg: 'HS256', typ: `${k === 'access' ? 'at' : 'rt'}+jwt` }, c.claims[k], null) }) },
  { name: 'JWS with two segments', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: `${b64({ alg: 'HS256' })}.${b64(c.claims[k])}` }) },
  { name: 'JWS with four segments', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { plaintext: `${jws({ alg: 'HS256', typ: `${k === 'access' ? 'at' : 'rt'}+jwt` }, c.claims[k], signingKey(TEST_SECRET, k))}.x` }) },
  { name: 'JWS payload a JSON array', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { rawPayload: JSON.stringify([c.claims[k]]) }) },
  { name: 'JWS payload JSON null', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { rawPayload: 'null' }) },
  { name: 'JWS payload a JSON string', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { rawPayload: '"claims"' }) },
  { name: 'JWS payload not JSON', reason: 'signature', build: (k, c) => c.forge.token(k, c.claims[k], { rawPayload: '{"sub":' }) },

  // Token kinds (rule 5): each kind has its own keys and typ; a partial key compromise does not cross over.
  { name: 'the other kind\'s real token', reason: 'decrypt', build: (k, c) => c.real[k === 'access' ? 'refresh' : 'access'] },
  { name: 'other kind\'s typ, signed and encrypted with this kind\'s keys', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { inner: { typ: k === 'access' ? 'rt+jwt' : 'at+jwt' } }) },
  { name: 'signed with the other kind\'s key, encrypted with this kind\'s', reason: 'signature', build: (k, c) => withClaims(k, c, {}, { signWith: signingKey(TEST_SECRET, k === 'access' ? 'refresh' : 'access'), inner: { typ: k === 'access' ? 'rt+jwt' : 'at+jwt' } }) },

  // Claim types and times (rule 4).
  { name: 'exp a string', reason: 'claims', build: (k, c) => withClaims(k, c, { exp: String(c.claims[k]['exp']) }) },
  { name: 'exp 1e400 (Infinity)', reason: 'claims', build: (k, c) => rawClaims(k, c, (json) => json.replace(/"exp":\d+/, '"exp":1e400')) },
  { name: 'exp a fraction', reason: 'claims', build: (k, c) => withClaims(k, c, { exp: (c.claims[k]['exp'] as number) - 0.5 }) },
  { name: 'exp null', reason: 'claims', build: (k, c) => withClaims(k, c, { exp: null }) },
  { name: 'exp negative', reason: 'claims', build: (k, c) => withClaims(k, c, { exp: -1 }) },
  { name: 'exp beyond 2^53', reason: 'claims', build: (k, c) => rawClaims(k, c, (json) => json.replace(/"exp":\d+/, '"exp":9007199254740993')) },
  { name: 'iat a string', reason: 'claims', build: (k, c) => withClaims(k, c, { iat: String(c.now) }) },
  { name: 'iat 1e400', reason: 'claims', build: (k, c) => rawClaims(k, c, (json) => json.replace(/"iat":\d+/, '"iat":1e400')) },
  { name: 'auth_time a string', reason: 'claims', build: (k, c) => withClaims(k, c, { auth_time: String(c.now) }) },
  ...['iss', 'aud', 'sub', 'jti', 'sid', 'iat', 'exp', 'auth_time'].map((claim): Case => ({
    name: `${claim} missing`, reason: 'claims', build: (k, c) => withClaims(k, c, { [claim]: undefined })
  })),
  { name: 'username missing', reason: 'claims', kinds: ['access'], build: (k, c) => withClaims(k, c, { username: undefined }) },
  { name: 'roles missing', reason: 'claims', kinds: ['access'], build: (k, c) => withClaims(k, c, { roles: undefined }) },
  { name: 'roles a string', reason: 'claims', kinds: ['access'], build: (k, c) => withClaims(k, c, { roles: 'admin' }) },
  { name: 'roles holding a number', reason: 'claims', kinds: ['access'], build: (k, c) => withClaims(k, c, { roles: [1] }) },
  { name: 'username an object', reason: 'claims', kinds: ['access'], build: (k, c) => withClaims(k, c, { username: { toString: 'alice' } }) },
  { name: 'sub an array', reason: 'claims', build: (k, c) => withClaims(k, c, { sub: [c.claims[k]['sub']] }) },
  { name: 'sub a number', reason: 'claims', build: (k, c) => withClaims(k, c, { sub: 1 }) },
  { name: 'sub empty', reason: 'claims', build: (k, c) => withClaims(k, c, { sub: '' }) },
  { name: 'aud an array', reason: 'claims', build: (k, c) => withClaims(k, c, { aud: [c.claims[k]['aud']] }) },
  { name: 'aud of another service', reason: 'claims', build: (k, c) => withClaims(k, c, { aud: 'other-service' }) },
  { name: 'iss of another issuer', reason: 'claims', build: (k, c) => withClaims(k, c, { iss: 'evil' }) },
  { name: 'jti too short', reason: 'claims', build: (k, c) => withClaims(k, c, { jti: 'abc' }) },
  { name: 'sid with a slash', reason: 'claims', build: (k, c) => withClaims(k, c, { sid: `${String(c.claims[k]['sid']).slice(1)}/` }) },
  { name: 'iat in the future beyond the leeway', reason: 'not-yet-valid', build: (k, c) => withClaims(k, c, { iat: c.now + LEEWAY + 1, exp: c.now + LEEWAY + 1 + 60, auth_time: c.now + LEEWAY + 1 }) },
  { name: 'exp - iat over the lifetime of the kind', reason: 'claims', build: (k, c) => withClaims(k, c, { exp: c.now + LIFETIME[k] + 1 }) },
  { name: 'exp equal to iat', reason: 'claims', build: (k, c) => withClaims(k, c, { exp: c.now }) },
  { name: 'auth_time after iat', reason: 'claims', build: (k, c) => withClaims(k, c, { auth_time: c.now + 1 }) },
  { name: 'exp beyond the absolute session lifetime', reason: 'claims', build: (k, c) => withClaims(k, c, { auth_time: c.now - 2592000 + 10, login_time: c.now - 2592000 + 10 }) },
  { name: 'exp beyond the absolute session lifetime though auth_time was renewed', reason: 'claims', build: (k, c) => withClaims(k, c, { auth_time: c.now, login_time: c.now - 2592000 + 10 }) },
  { name: 'login_time after auth_time', reason: 'claims', build: (k, c) => withClaims(k, c, { login_time: c.now, auth_time: c.now - 1 }) },
  { name: 'amr a string', reason: 'claims', build: (k, c) => withClaims(k, c, { amr: 'otp' }) },
  { name: 'amr with an object', reason: 'claims', build: (k, c) => withClaims(k, c, { amr: [{ toString: 'otp' }] }) },
  { name: 'nbf in the future beyond the leeway', reason: 'not-yet-valid', build: (k, c) => withClaims(k, c, { nbf: c.now + LEEWAY + 1 }) },
  { name: 'nbf a string', reason: 'claims', build: (k, c) => withClaims(k, c, { nbf: String(c.now) }) },
  { name: 'expired beyond the leeway', reason: 'expired', kinds: ['access'], build: (k, c) => withClaims(k, c, { iat: c.now - LEEWAY - 900, exp: c.now - LEEWAY, auth_time: c.now - LEEWAY - 900, login_time: c.now - LEEWAY - 900 }) },
  { name: 'control: expired within the leeway is accepted', reason: 'ok', kinds: ['access'], build: (k, c) => withClaims(k, c, { iat: c.now - 900, exp: c.now - LEEWAY + 1, auth_time: c.now - 900, login_time: c.now - 900 }) },

  // Prototype keys are inert (rule 6): accepted tokens, nothing beyond the known claims comes through.
  { name: '__proto__ member in the payload', reason: 'ok', kinds: ['access'], build: (k, c) => rawClaims(k, c, (json) => json.replace(/^\{/, '{"__proto__":{"roles":["root"],"polluted":true},')) },
  { name: 'constructor.prototype member in the payload', reason: 'ok', kinds: ['access'], build: (k, c) => rawClaims(k, c, (json) => json.replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},')) },

  // Compact form only (rule 2): rejected before any crypto.
  { name: 'JSON serialization', reason: 'malformed', build: (k, c) => { const [p, , iv, ct, tag] = c.real[k].split('.'); return JSON.stringify({ protected: p, iv, ciphertext: ct, tag }) } },
  { name: 'flattened JSON with unprotected header', reason: 'malformed', build: (k, c) => { const [p, , iv, ct, tag] = c.real[k].split('.'); return JSON.stringify({ protected: p, unprotected: { alg: 'none' }, iv, ciphertext: ct, tag }) } },
  { name: 'four segments', reason: 'malformed', build: (k, c) => c.real[k].split('.').slice(1).join('.') },
  { name: 'six segments', reason: 'malformed', build: (k, c) => `${c.real[k]}.AAAA` },
  { name: 'bare JWS (three segments)', reason: 'malformed', build: (k, c) => c.forge.open(c.real[k], k).inner },
  { name: 'padding "=" on the tag', reason: 'malformed', build: (k, c) => `${c.real[k]}==` },
  { name: 'padding "=" on the ciphertext', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 3, (s) => `${s}=`) },
  { name: 'standard base64 characters', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 3, (s) => s.replace(/-/g, '+').replace(/_/g, '/') + (s.includes('-') || s.includes('_') ? '' : '+')) },
  { name: 'non-canonical trailing bits in the header', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 0, alterTrailingBits) },
  { name: 'non-canonical trailing bits in the ciphertext', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 3, (s) => s.length % 4 === 0 ? `${s}A` : alterTrailingBits(s)) },
  { name: 'non-canonical trailing bits in the tag', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 4, alterTrailingBits) },
  { name: 'percent-encoded dots', reason: 'malformed', build: (k, c) => c.real[k].replace(/\./g, '%2E') },
  { name: 'percent-encoded character', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 3, (s) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`) },
  { name: 'double quotes around the token', reason: 'malformed', build: (k, c) => `"${c.real[k]}"` },
  { name: 'a space inside', reason: 'malformed', build: (k, c) => c.real[k].replace('.', '. ') },
  { name: 'a tab inside', reason: 'malformed', http: false, build: (k, c) => c.real[k].replace('.', '.\t') },
  { name: 'leading space', reason: 'malformed', http: false, build: (k, c) => ` ${c.real[k]}` },
  { name: 'a newline inside', reason: 'malformed', http: false, build: (k, c) => c.real[k].replace('.', '.\n') },
  { name: 'NUL appended', reason: 'malformed', http: false, build: (k, c) => `${c.real[k]}\u0000` },
  { name: 'a non-ASCII look-alike letter', reason: 'malformed', http: false, build: (k, c) => c.real[k].replace(/A/, '\u0410') },
  { name: 'over 4096 characters', reason: 'malformed', build: (k, c) => withSegment(c.real[k], 3, (s) => s + 'A'.repeat(4096)) },
  { name: 'empty segments only', reason: 'malformed', build: () => '....' },
  { name: 'braces', reason: 'malformed', build: () => '{}' }
]

function flipBit (segment: string, index: number): string {
  const bytes = Buffer.from(segment, 'base64url')
  bytes[index] = (bytes[index] as number) ^ 0x01
  return bytes.toString('base64url')
}

for (const cache of [true, false]) {
  test(`hostile tokens reach their check and get the one 401 (verified-token cache ${cache ? 'on' : 'off'})`, async (t) => {
    let keyFetches = 0
    const keyServer = createServer((_req, res) => { keyFetches++; res.end('{"keys":[]}') })
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { keyServer.close() })
    const jwksUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks`

    const { app, clock, forge, alice } = await securityApp(t, { cache, env: { RATE_LIMIT_REFRESH_IP_MAX: '100000' } })
    const real = { access: alice.jar.get(ACCESS) as string, refresh: alice.jar.get(REFRESH) as string }
    const c: Ctx = {
      forge,
      now: clock.seconds,
      epoch: epochOf(clock.seconds),
      real,
      claims: { access: forge.open(real.access, 'access').claims, refresh: forge.open(real.refresh, 'refresh').claims },
      jwksUrl
    }
    // With the cache on, the real token is in it: hostile variants must not ride on it.
    t.equal(typeof app.sessions.authenticate(real.access), 'object', 'the real access token is valid')

    for (const testCase of cases) {
      for (const kind of testCase.kinds ?? ['access', 'refresh'] as Kind[]) {
        const name = `${kind}: ${testCase.name}`
        const token = testCase.build(kind, c)
        t.not(token, real[kind], `${name}: differs from the real token`)
        if (kind === 'access') {
          const result = app.sessions.authenticate(token)
          if (testCase.reason === 'ok') {
            t.equal(typeof result, 'object', `${name}: accepted`)
            if (typeof result === 'object') {
              t.same(result.user, { id: c.claims.access['sub'], username: 'alice', roles: [] }, `${name}: only the known claims`)
              t.equal(Object.getPrototypeOf(result.user), Object.prototype, `${name}: plain prototype`)
            }
            t.equal(({} as Record<string, unknown>)['polluted'], undefined, `${name}: no prototype pollution`)
            if (testCase.http !== false) {
              const response = await sessionWith(app, `${ACCESS}=${token}`)
              t.equal(response.statusCode, 200, `${name}: 200`)
              t.same(Object.keys(response.json().user), ['id', 'username', 'roles'], `${name}: the known fields only`)
            }
            continue
          }
          t.equal(result, testCase.reason, `${name}: ${testCase.reason}`)
          if (testCase.http !== false) assertInvalid(t, await sessionWith(app, `${ACCESS}=${token}`), name)
        } else {
          const result = await app.sessions.refresh(token)
          t.same({ status: result.status, reason: 'reason' in result ? result.reason : undefined }, { status: 'invalid', reason: testCase.reason }, `${name}: ${testCase.reason}`)
          if (testCase.http !== false) {
            const response = await refreshWith(app, `${REFRESH}=${token}`)
            assertInvalid(t, response, name)
            t.match(response.headers['set-cookie'], [/^__Host-session=;/, /^__Secure-refresh=;/], `${name}: both cookies cleared`)
          }
        }
      }
    }

    t.equal(keyFetches, 0, 'no key was ever fetched from a URL in a token')
    // None of the hostile refresh tokens counted as reuse: the family still refreshes.
    clock.advance(1)
    t.equal((await alice.request('POST', '/auth/refresh')).statusCode, 200, 'the real refresh token still rotates')
    t.equal((await alice.request('GET', '/auth/session')).statusCode, 200, 'and its new access token works')
  })
}

test('a key-from-token header is refused even with a valid signature, and never fetched', async (t) => {
  let keyFetches = 0
  const keyServer = createServer((_req, res) => { keyFetches++; res.end('{}') })
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { keyServer.close() })
  const url = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks`
  const { app, forge, alice } = await securityApp(t)
  const claims = forge.open(alice.jar.get(ACCESS) as string, 'access').claims
  for (const inner of [{ jku: url }, { x5u: url }, { kid: url }, { jwk: attackerJwk }]) {
    const token = forge.token('access', claims, { inner })
    // The inner header must be exactly {alg, typ}: any other member is refused, signed with the real key or not.
    t.equal(app.sessions.authenticate(token), 'signature', `${Object.keys(inner)[0] ?? ''}: refused although the real key signed it`)
  }
  t.equal(keyFetches, 0, 'no outbound request')
})

test('the forge is honest: a token built from scratch with the derived keys is accepted', async (t) => {
  const { app, clock, forge, aliceId } = await securityApp(t, { login: false })
  const now = clock.seconds
  const token = jwe(
    jws({ alg: 'HS256', typ: 'at+jwt' }, { iss: 'stateless-session', aud: 'stateless-session', sub: aliceId, jti: 'J'.repeat(22), sid: 'S'.repeat(22), iat: now, exp: now + 900, auth_time: now, username: 'alice', roles: [] }, signingKey(TEST_SECRET, 'access')),
    { header: { alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: forge.kid(epochOf(now)) }, key: encryptionKey(TEST_SECRET, 'access', epochOf(now)) }
  )
  t.match(app.sessions.authenticate(token), { id: 'S'.repeat(22), user: { id: aliceId } })
})
