/**
 * Builds a real token codec (keys, @fastify/jwt namespaces) outside an app, for token-level tests, and
 * jose-based helpers that follow docs/token-format.md independently of src/tokens.
 */
import Fastify from 'fastify'
import { hkdfSync } from 'node:crypto'
import * as jose from 'jose'
import type { Test } from 'tap'
import type { ClaimRules } from '../../src/tokens/claims.js'
import { registerJws } from '../../src/tokens/jws.js'
import { KeyRing, type TokenKind } from '../../src/tokens/keys.js'
import { TokenCodec } from '../../src/tokens/token-codec.js'
import { TEST_SECRET } from '../helper.js'

export const RULES: ClaimRules = {
  issuer: 'stateless-session',
  audience: 'stateless-session',
  lifetime: { access: 900, refresh: 604800 },
  maxAge: 2592000,
  leeway: 30
}

export async function makeCodec (t: Test, secret = TEST_SECRET, previous: string[] = [], rules = RULES): Promise<TokenCodec> {
  const host = Fastify()
  t.teardown(async () => await host.close())
  const ring = new KeyRing({
    current: Buffer.from(secret),
    previous: previous.map((s) => Buffer.from(s)),
    maxLifetime: rules.lifetime,
    leewaySeconds: rules.leeway
  })
  const jws = await registerJws(host, ring)
  return new TokenCodec({ ring, jws, rules })
}

/** Written from docs/token-format.md, not from src/tokens: HKDF-SHA256, empty salt, these info strings. */
export function docKey (secret: string, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), new Uint8Array(0), info, 32))
}

export function docKid (secret: string, epoch: number): string {
  const fingerprint = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), new Uint8Array(0), 'stateless-session/v1 key-id', 6)).toString('base64url')
  return `${fingerprint}.${epoch}`
}

export const TYP: Record<TokenKind, string> = { access: 'at+jwt', refresh: 'rt+jwt' }

/** Builds a nested token with jose alone, by the documented recipe. Header and claims can be bent. */
export async function joseToken (options: {
  kind: TokenKind
  claims: Record<string, unknown>
  secret?: string
  epoch?: number
  /** Replaces the whole JWS header (members in the given order). */
  jwsHeader?: Record<string, unknown>
  /** Members changed in (or, as undefined, dropped from) the JWE header. */
  jweHeader?: Record<string, unknown>
  signingKey?: Uint8Array
}): Promise<string> {
  const secret = options.secret ?? TEST_SECRET
  const iat = typeof options.claims['iat'] === 'number' ? options.claims['iat'] : 0
  const epoch = options.epoch ?? Math.floor(iat / 3600)
  const signingKey = options.signingKey ?? docKey(secret, `stateless-session/v1 ${options.kind} jws`)
  const jws = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(options.claims)))
    .setProtectedHeader((options.jwsHeader ?? { alg: 'HS256', typ: TYP[options.kind] }) as jose.CompactJWSHeaderParameters)
    .sign(signingKey)
  return await new jose.CompactEncrypt(new TextEncoder().encode(jws))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: docKid(secret, epoch), ...options.jweHeader } as jose.CompactJWEHeaderParameters)
    .encrypt(docKey(secret, `stateless-session/v1 ${options.kind} jwe ${epoch}`))
}

/** Decrypts and verifies one of our tokens with jose alone, by the documented recipe. */
export async function joseOpen (token: string, kind: TokenKind, secret = TEST_SECRET, now?: number): Promise<{ header: jose.JWSHeaderParameters, outer: jose.CompactJWEHeaderParameters, claims: jose.JWTPayload }> {
  const outer = jose.decodeProtectedHeader(token) as jose.CompactJWEHeaderParameters
  const epoch = Number(String(outer.kid).split('.')[1])
  const { plaintext } = await jose.compactDecrypt(token, docKey(secret, `stateless-session/v1 ${kind} jwe ${epoch}`), {
    keyManagementAlgorithms: ['dir'],
    contentEncryptionAlgorithms: ['A256GCM'],
    maxDecompressedLength: 0
  } as jose.DecryptOptions)
  const { payload, protectedHeader } = await jose.jwtVerify(new TextDecoder().decode(plaintext), docKey(secret, `stateless-session/v1 ${kind} jws`), {
    algorithms: ['HS256'],
    typ: TYP[kind],
    issuer: RULES.issuer,
    audience: RULES.audience,
    requiredClaims: ['sub', 'jti', 'sid', 'iat', 'exp', 'auth_time', 'login_time', 'amr'],
    ...(now === undefined ? {} : { currentDate: new Date(now * 1000) })
  })
  return { header: protectedHeader, outer, claims: payload }
}

export const NOW = 1_795_000_000

export function accessClaims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: RULES.issuer,
    aud: RULES.audience,
    sub: 'user-1',
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
    sid: 'BBBBBBBBBBBBBBBBBBBBBB',
    iat: NOW,
    exp: NOW + 900,
    auth_time: NOW,
    login_time: NOW,
    amr: ['pwd'],
    username: 'alice',
    roles: ['admin'],
    ...overrides
  }
}

export function refreshClaims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { username: _u, roles: _r, ...claims } = accessClaims({ exp: NOW + 604800, jti: 'CCCCCCCCCCCCCCCCCCCCCC', ...overrides })
  return claims
}
