/**
 * The cold access check stage by stage, for reading where its time goes (not part of `npm run bench`):
 *
 *   node --import tsx bench/cold-stages.ts [count]
 *
 * Mints <count> access tokens (default 20,000), then runs each stage on every token together with all the
 * stages before it (so a token is always fresh to the stage, as in a real request), and prints the CPU µs
 * per token of the best of 12 passes: the floor (decrypt + HMAC + parse only: bench/floor-check.ts, as the floor contender),
 * then parse, + decrypt, + inner JWS, + claims rules, + session info, and the whole `sessions.authenticate`
 * on a fresh instance per pass. The differences between rows are rough: each row is its own run.
 */
import type { FastifyInstance } from 'fastify'
import { createSecretKey, randomBytes } from 'node:crypto'
import { MemorySessionStore } from '../src/index.js'
import { sessionInfo } from '../src/session/session-info.js'
import { checkClaims, type AccessClaims, type ClaimRules, type ClaimsResult } from '../src/tokens/claims.js'
import { decryptJwe, parseCompactJwe, type ParsedJwe } from '../src/tokens/jwe.js'
import { verifyJws } from '../src/tokens/jws.js'
import { deriveEncryptionKey, deriveSigningKey, KEY_EPOCH_SECONDS } from '../src/tokens/keys.js'
import { openFloorToken } from './floor-check.js'
import { mintAccessTokens, sessionInstance } from './shared.js'

const count = Number(process.argv[2] ?? 20_000)
const secretText = randomBytes(32).toString('base64url')
const accessTtl = 900
const lifetimes = { refreshIdleTtl: 604_800, maxAge: 2_592_000 }
const tokens = await mintAccessTokens(secretText, count)

const secret = Buffer.from(secretText)
const encryptionKey = createSecretKey(deriveEncryptionKey(secret, 'access', Math.floor(Date.now() / 1000 / KEY_EPOCH_SECONDS)))
const signingKey = createSecretKey(deriveSigningKey(secret, 'access'))
const now = Math.floor(Date.now() / 1000)
const first = verifyJws(decryptJwe(parseCompactJwe(tokens[0] as string) as ParsedJwe, encryptionKey) as string, 'access', signingKey)
if (first === undefined) throw new Error('the first token does not verify')
const rules: ClaimRules = { issuer: first['iss'] as string, audience: first['aud'] as string, lifetime: { access: accessTtl, refresh: lifetimes.refreshIdleTtl }, maxAge: lifetimes.maxAge, leeway: 60 }

const floorKeys = { encryption: encryptionKey, signing: signingKey }
function floor (token: string): unknown {
  const claims = openFloorToken(token, floorKeys)
  if (claims === undefined) throw new Error('bad signature')
  return claims
}

const parse = (token: string): ParsedJwe => parseCompactJwe(token) as ParsedJwe
const decrypt = (token: string): string => decryptJwe(parse(token), encryptionKey) as string
const inner = (token: string): Record<string, unknown> => verifyJws(decrypt(token), 'access', signingKey) as Record<string, unknown>
const claims = (token: string): ClaimsResult<AccessClaims> => checkClaims('access', inner(token), rules, now)
const apps: FastifyInstance[] = []
for (let pass = 0; pass < 12; pass++) apps.push(await sessionInstance(secretText, new MemorySessionStore()))
let pass = 0

const stages: Array<[string, (token: string) => unknown]> = [
  ['floor: decrypt + HMAC + JSON.parse', floor],
  ['parse', parse],
  ['+ decrypt', decrypt],
  ['+ inner JWS', inner],
  ['+ claims rules', claims],
  ['+ session info', (token) => { const c = claims(token); return c.ok ? sessionInfo(c.claims, lifetimes) : undefined }],
  ['sessions.authenticate', (token) => (apps[pass] as FastifyInstance).sessions.authenticate(token)]
]
const best = new Map<string, number>()
for (; pass < 12; pass++) {
  for (const [name, stage] of stages) {
    const start = process.cpuUsage()
    for (const token of tokens) stage(token)
    const used = process.cpuUsage(start)
    best.set(name, Math.min(best.get(name) ?? Infinity, (used.user + used.system) / tokens.length))
  }
}
process.stdout.write(`token length ${(tokens[0] as string).length}; CPU µs per token, best of 12 passes over ${tokens.length} tokens:\n`)
for (const [name, us] of best) process.stdout.write(`  ${name.padEnd(36)} ${us.toFixed(2)}\n`)
await Promise.all(apps.map(async (app) => { await app.close() }))
