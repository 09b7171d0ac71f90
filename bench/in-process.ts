/**
 * Measurements made inside one process (no HTTP), each run by the runner in a fresh child process:
 *
 *   verify <count>    µs per cold access check: ours (`sessions.authenticate` on tokens the instance has never
 *                     seen: decrypt, verify, claims, cache insert, denylist) against jose `compactDecrypt`
 *                     (pre-imported key) + fast-jwt `verify` of the same tokens, keys derived as
 *                     docs/token-format.md says, and against the floor (one AES-256-GCM decrypt, one
 *                     HMAC-SHA256, one JSON.parse per token: bench/floor-check.ts, as the floor contender).
 *   denylist <count>  memory of <count> live token revocations in the denylist, lookup cost at that size and
 *                     at 1,000 (flat means O(1)), and the start-up time of the plugin over a SQLite file
 *                     holding them (the real path: load, then serve).
 *
 * Answers with one JSON object over IPC.
 */
import { createVerifier } from 'fast-jwt'
import { createSecretKey, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import * as jose from 'jose'
import { ours, oursDenylist, oursSqlite } from './our-code.js'
import { docKey } from '../test/tokens/token-kit.js'
import { openFloorToken } from './floor-check.js'
import { median, mintAccessTokens, sessionInstance } from './shared.js'

const SECRET = process.env.BENCH_SECRET ?? randomBytes(32).toString('base64url')
const CHUNK = 500

/** µs per item, per chunk of CHUNK items: the median says what a typical stretch costs, the min what the code costs undisturbed. */
async function perChunk (items: string[], each: (item: string) => unknown): Promise<{ median: number, fastest: number }> {
  const chunks: number[] = []
  for (let i = 0; i + CHUNK <= items.length; i += CHUNK) {
    const start = performance.now()
    for (let j = i; j < i + CHUNK; j++) {
      const out = each(items[j] as string)
      if (out instanceof Promise) await out
    }
    chunks.push((performance.now() - start) * 1000 / CHUNK)
  }
  return { median: median(chunks), fastest: Math.min(...chunks) }
}

async function verifyCost (count: number): Promise<object> {
  const tokens = await mintAccessTokens(SECRET, count)
  const half = tokens.length / 2
  const warmUp = tokens.slice(0, half)
  const measured = tokens.slice(half)

  // Ours: a fresh instance, so every measured token is new to it (the warm-up half shares none of them).
  const instance = await sessionInstance(SECRET, new ours.MemorySessionStore())
  const authenticate = (token: string): void => {
    const result = instance.sessions.authenticate(token)
    if (typeof result === 'string') throw new Error(`our check refused a valid token: ${result}`)
  }
  warmUp.forEach(authenticate)
  const oursCost = await perChunk(measured, authenticate)
  await instance.close()

  // jose + fast-jwt, with every advantage: keys imported once, the verifier built once, no claims policy.
  const epoch = Number(String(jose.decodeProtectedHeader(tokens[0] as string).kid).split('.')[1])
  const jweKey = createSecretKey(docKey(SECRET, `stateless-session/v1 access jwe ${epoch}`))
  const verifier = createVerifier({ key: Buffer.from(docKey(SECRET, 'stateless-session/v1 access jws')), algorithms: ['HS256'], cache: false })
  const decoder = new TextDecoder()
  const joseFastJwt = async (token: string): Promise<void> => {
    const { plaintext } = await jose.compactDecrypt(token, jweKey, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] })
    const claims = verifier(decoder.decode(plaintext)) as { sub?: string }
    if (typeof claims.sub !== 'string') throw new Error('jose + fast-jwt refused a valid token')
  }
  for (const token of warmUp) await joseFastJwt(token)
  const peerCost = await perChunk(measured, joseFastJwt)

  // The floor: only what the format makes unavoidable (bench/contenders/floor.ts does the same per request),
  // so the report can say how much of our cost is the design's and how much is our code's.
  const floorKeys = { encryption: jweKey, signing: createSecretKey(docKey(SECRET, 'stateless-session/v1 access jws')) }
  const floor = (token: string): void => {
    if (typeof openFloorToken(token, floorKeys)?.['sub'] !== 'string') throw new Error('the floor refused a valid token')
  }
  warmUp.forEach(floor)
  const floorCost = await perChunk(measured, floor)
  return { tokens: measured.length, chunk: CHUNK, ours: oursCost, joseFastJwt: peerCost, floor: floorCost }
}

function heapBytes (): number {
  globalThis.gc?.()
  globalThis.gc?.()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external + usage.arrayBuffers
}

function lookupNs (denylist: InstanceType<typeof oursDenylist.Denylist>, ids: string[], now: number): number {
  let hits = 0
  const start = process.hrtime.bigint()
  for (const id of ids) if (denylist.isRevoked(id, id, 'someone', now)) hits++
  const ns = Number(process.hrtime.bigint() - start) / ids.length
  if (hits === 0) throw new Error('lookups found nothing')
  return ns
}

async function denylistScale (count: number): Promise<object> {
  if (globalThis.gc === undefined) throw new Error('run with --expose-gc')
  const now = Math.floor(Date.now() / 1000)
  const expiresAt = now + 900

  // The ids are made inside the measured window: the denylist owns its strings in real life too.
  const before = heapBytes()
  const denylist = new oursDenylist.Denylist()
  for (let i = 0; i < count; i++) denylist.add({ kind: 'token', id: randomBytes(16).toString('base64url'), expiresAt })
  const bytes = heapBytes() - before
  const ids = denylist.entries().map((revocation) => revocation.id)

  // Half present, half absent, in random order. Three sizes: 1,000 fits the CPU caches; a tenth of the full
  // size and the full size do not, so between those two a hash table stays flat and anything that walks
  // (a tree, a scan) grows.
  const probe = (n: number, from: string[]): string[] => Array.from({ length: n }, (_, i) => i % 2 === 0 ? from[Math.floor(Math.random() * from.length)] as string : randomBytes(16).toString('base64url'))
  const lookup = (size: number): number => {
    const list = size === ids.length ? denylist : new oursDenylist.Denylist()
    const subset = ids.slice(0, size)
    if (list !== denylist) for (const id of subset) list.add({ kind: 'token', id, expiresAt })
    const probes = probe(200_000, subset)
    lookupNs(list, probes, now)
    return median([1, 2, 3, 4, 5].map(() => lookupNs(list, probes, now)))
  }
  const nsSmall = lookup(1000)
  const nsTenth = lookup(Math.floor(count / 10))
  const nsLarge = lookup(count)

  // Start-up over a SQLite file holding every one of them (written directly: setting up is not measured).
  const dir = mkdtempSync(join(tmpdir(), 'denylist-bench-'))
  try {
    const db = oursSqlite.openSqliteDatabase({ path: join(dir, 'sessions.db') })
    const insert = db.prepare('INSERT INTO revocations (kind, id, not_before, expires_at) VALUES (\'token\', ?, NULL, ?)')
    db.transaction(() => { for (const id of ids) insert.run(id, expiresAt) })()
    const start = performance.now()
    const app = await sessionInstance(SECRET, new oursSqlite.SqliteSessionStore(db))
    const loadSeconds = (performance.now() - start) / 1000
    const loaded = app.sessionRevocations.status().denylistSize
    await app.close()
    if (loaded !== count) throw new Error(`start-up loaded ${loaded} of ${count} revocations`)
    return { entries: count, bytes, bytesPerEntry: bytes / count, nsLookup: nsLarge, nsLookupAtTenth: nsTenth, nsLookupAt1000: nsSmall, loadSeconds }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const [what, countText] = process.argv.slice(2)
const count = Number(countText)
const result = what === 'verify' ? await verifyCost(count) : await denylistScale(count)
if (process.send !== undefined) process.send(result, () => { process.exit(0) })
else process.stdout.write(JSON.stringify(result) + '\n')
