/**
 * Cost of one cold access check, in process, one core: `codec.verify('access', token, now)` plus the
 * denylist lookup, over distinct tokens never verified before (no cache of verified tokens is involved).
 * For comparison, the same tokens opened the library way: jose `compactDecrypt` (pre-imported CryptoKey)
 * then fast-jwt HS256 verify. Prints the median µs per token over chunks of tokens.
 *
 *   npx tsx scripts/verify-cost.ts [tokens=20000] [chunk=500]
 */
import { hkdfSync, webcrypto } from 'node:crypto'
import Fastify from 'fastify'
import { createVerifier } from 'fast-jwt'
import * as jose from 'jose'
import { Denylist } from '../src/denylist.js'
import { newId } from '../src/random-id.js'
import type { AccessClaims, ClaimRules } from '../src/tokens/claims.js'
import { registerJws } from '../src/tokens/jws.js'
import { KeyRing } from '../src/tokens/keys.js'
import { TokenCodec } from '../src/tokens/token-codec.js'

const TOKENS = Number(process.argv[2] ?? 20_000)
const CHUNK = Number(process.argv[3] ?? 500)
const SECRET = 'verify-cost-secret-0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const NOW = Math.floor(Date.now() / 1000)
const RULES: ClaimRules = {
  issuer: 'stateless-session',
  audience: 'stateless-session',
  lifetime: { access: 900, refresh: 604800 },
  maxAge: 2592000,
  leeway: 30
}

const host = Fastify()
const ring = new KeyRing({ current: Buffer.from(SECRET), previous: [], maxLifetime: RULES.lifetime, leewaySeconds: RULES.leeway })
const codec = new TokenCodec({ ring, jws: await registerJws(host, ring), rules: RULES })
const denylist = new Denylist()
// A denylist that is not empty, as in production: lookups miss.
for (let i = 0; i < 10_000; i++) denylist.add({ kind: 'token', id: newId(), expiresAt: NOW + 900 })

function mint (n: number): string[] {
  const tokens: string[] = []
  for (let i = 0; i < n; i++) {
    const claims: AccessClaims = {
      iss: RULES.issuer,
      aud: RULES.audience,
      sub: `user-${i}`,
      jti: newId(),
      sid: newId(),
      iat: NOW,
      exp: NOW + 900,
      auth_time: NOW,
      username: `user${i}@example.com`,
      roles: ['user']
    }
    tokens.push(codec.mint('access', claims))
  }
  return tokens
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

async function measure (name: string, tokens: string[], check: (token: string) => unknown): Promise<number> {
  const perToken: number[] = []
  for (let start = 0; start < tokens.length; start += CHUNK) {
    const chunk = tokens.slice(start, start + CHUNK)
    const t0 = process.hrtime.bigint()
    for (const token of chunk) {
      const result = check(token)
      if (result instanceof Promise) await result
    }
    perToken.push(Number(process.hrtime.bigint() - t0) / 1000 / chunk.length)
  }
  const value = median(perToken)
  console.log(`${name.padEnd(44)} ${value.toFixed(2).padStart(7)} µs/token (median of ${perToken.length} chunks of ${CHUNK})`)
  return value
}

function ours (token: string): boolean {
  const result = codec.verify('access', token, NOW)
  if (!result.ok) throw new Error(`rejected: ${result.reason}`)
  const c = result.claims
  if (denylist.isRevoked(c.jti, c.sid, c.sub, c.iat)) throw new Error('revoked')
  return true
}

const key = (info: string): Buffer => Buffer.from(hkdfSync('sha256', Buffer.from(SECRET), Buffer.alloc(0), info, 32))
const epoch = Math.floor(NOW / 3600)
const jweKey = await webcrypto.subtle.importKey('raw', key(`stateless-session/v1 access jwe ${epoch}`), 'AES-GCM', false, ['decrypt'])
const fastJwtVerify = createVerifier({ key: key('stateless-session/v1 access jws'), algorithms: ['HS256'], cache: false, ignoreExpiration: true, checkTyp: 'at+jwt' })
const decoder = new TextDecoder()
async function library (token: string): Promise<boolean> {
  const { plaintext } = await jose.compactDecrypt(token, jweKey, {
    keyManagementAlgorithms: ['dir'],
    contentEncryptionAlgorithms: ['A256GCM'],
    maxDecompressedLength: 0
  } as jose.DecryptOptions)
  const c = fastJwtVerify(decoder.decode(plaintext)) as AccessClaims
  if (denylist.isRevoked(c.jti, c.sid, c.sub, c.iat)) throw new Error('revoked')
  return true
}

const warm = mint(4000)
const tokens = mint(TOKENS)
console.log(`node ${process.version}, ${TOKENS} distinct access tokens of ${tokens[0]?.length} characters`)
for (const token of warm) ours(token)
await measure('ours: codec.verify + denylist', tokens, ours)
for (const token of warm.slice(0, 1000)) await library(token)
await measure('jose compactDecrypt + fast-jwt verify', tokens.slice(0, Math.min(TOKENS, 5000)), library)
// Run ours again at the end: the first figure of a run can carry JIT and GC noise.
await measure('ours again', mint(TOKENS), ours)
await host.close()
