/**
 * How long a revocation made on instance A takes to be enforced on instance B, both over one Redis, or both
 * over one SQLite file (two processes: what a second worker or the users CLI does).
 *
 *   npm run bench:propagation -- [--store redis|sqlite] [--topology single|sentinel|cluster] [--count 1000] [--warmup 50] [--json file]
 *
 * `--topology` (Redis only) `sentinel`: a primary, a replica and three Sentinels (REDIS_SENTINELS); `cluster`:
 * three primaries (REDIS_CLUSTER_NODES). Default: one server.
 *
 * Redis: a private redis-server (AOF, appendfsync everysec) on a free port. SQLite: a file in a temporary
 * directory (WAL, as the service opens it). Instance A in this process, instance B in a child process
 * (bench/propagation-instance.ts), each with its own connections. For each sample:
 * B starts checking one access token in a loop (its real access check: `sessions.authenticate`, in memory);
 * A logs that session out through POST /auth/logout; B reports the moment the token is first refused.
 * Latency = that moment minus the moment A's logout request started, and minus the moment Redis recorded the
 * revocation (the millisecond in its stream entry id) or, on SQLite, the moment A's logout answered (its
 * transaction committed before). All times come from the one machine clock.
 * Prints a Markdown table for docs/benchmarks.md; exits non-zero when the p99 misses the 50 ms goal.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { closeRedis, connectRedis } from '../src/stores/redis-client.js'
import { startRedis } from '../test/helpers/redis-server.js'
import type { Test } from 'tap'
import { startRedisCluster } from '../test/helpers/redis-cluster.js'
import { SENTINEL_NAME, startSentinelSet } from '../test/helpers/redis-sentinel.js'
import { parseRedisAddress } from '../src/stores/redis-client.js'
import { oursService } from './our-code.js'
import type { ChildMessage, ParentMessage } from './propagation-instance.js'

const { values } = parseArgs({ options: { store: { type: 'string', default: 'redis' }, topology: { type: 'string', default: 'single' }, count: { type: 'string', default: '1000' }, warmup: { type: 'string', default: '50' }, json: { type: 'string' } } })
if (values.store !== 'redis' && values.store !== 'sqlite') throw new Error('--store is redis or sqlite')
const SQLITE = values.store === 'sqlite'
const COUNT = Number(values.count)
const WARMUP = Number(values.warmup)
const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz'
const PASSWORD = 'correct horse battery staple'
const CHEAP_HASH = { memoryCost: 1024, timeCost: 1, parallelism: 1 }

const teardowns: Array<() => unknown> = []
const now = (): number => performance.timeOrigin + performance.now()

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

function summary (samples: number[]): { p50: number, p90: number, p99: number, max: number, mean: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) as number,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length
  }
}

async function request (child: ChildProcess, message: ParentMessage): Promise<ChildMessage> {
  const reply = once(child, 'message') as Promise<[ChildMessage]>
  child.send(message)
  return (await reply)[0]
}

try {
  const dataDir = mkdtempSync(join(tmpdir(), 'propagation-bench-'))
  teardowns.push(() => { rmSync(dataDir, { recursive: true, force: true }) })
  const holder = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }
  const topology = values.topology
  let redisEnv: Record<string, string> | undefined
  let admin: Awaited<ReturnType<typeof connectRedis>> | undefined
  if (SQLITE) {
    redisEnv = undefined
  } else if (topology === 'sentinel') {
    const set = await startSentinelSet(holder as unknown as Test)
    redisEnv = { REDIS_SENTINELS: set.sentinels, REDIS_SENTINEL_NAME: SENTINEL_NAME }
    admin = await connectRedis({ url: set.primary.url, commandTimeoutMs: 1000 })
  } else if (topology === 'cluster') {
    const cluster = await startRedisCluster(holder as unknown as Test)
    redisEnv = { REDIS_CLUSTER_NODES: cluster.nodes }
    admin = await connectRedis({ url: 'redis://', commandTimeoutMs: 1000, clusterNodes: cluster.nodes.split(',').map(parseRedisAddress) })
  } else {
    const redis = await startRedis(holder, { aof: true, appendfsync: 'everysec' })
    redisEnv = { REDIS_URL: redis.url }
    admin = await connectRedis({ url: redis.url, commandTimeoutMs: 1000 })
  }
  const connected = admin
  if (connected !== undefined) teardowns.push(async () => { await closeRedis(connected) })
  const log = topology === 'cluster' ? 'session:{log}:revocations' : 'session:revocations'
  const env = redisEnv === undefined
    ? { NODE_ENV: 'test', STORE: 'sqlite', SESSION_SECRET: SECRET, LOG_LEVEL: 'silent', DATA_DIR: dataDir }
    : { NODE_ENV: 'test', STORE: 'redis', ...redisEnv, SESSION_SECRET: SECRET, LOG_LEVEL: 'silent', DATA_DIR: dataDir }
  const a = await oursService.buildApp({ env, passwordHashCost: CHEAP_HASH })
  teardowns.push(async () => await a.close())
  await a.ready()
  await a.users.add('bench', PASSWORD)

  const b = fork(fileURLToPath(new URL('./propagation-instance.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_ENV: JSON.stringify(env) } })
  teardowns.push(() => { b.kill() })
  const ready = await once(b, 'message') as [ChildMessage]
  if (ready[0].type !== 'ready') throw new Error('instance B did not start')

  const propagation: number[] = []
  const fromRecorded: number[] = []
  const logoutRequest: number[] = []
  for (let i = 0; i < WARMUP + COUNT; i++) {
    const issuedResult = await a.sessions.login('bench', PASSWORD, { userAgent: 'bench', address: null })
    if (issuedResult.status !== 'issued') throw new Error('login failed')
    const issued = issuedResult.session
    const token = issued.access.token
    const watching = await request(b, { type: 'watch', token })
    if (watching.type !== 'watching') throw new Error(`B does not accept the new session: ${JSON.stringify(watching)}`)
    const refused = once(b, 'message') as Promise<[ChildMessage]>
    const started = now()
    const response = await a.inject({ method: 'POST', url: '/auth/logout', headers: { cookie: `__Host-session=${token}` } })
    const answered = now()
    if (response.statusCode !== 204) throw new Error(`logout answered ${response.statusCode}`)
    const [message] = await refused
    if (message.type !== 'refused') throw new Error(`unexpected message from B: ${JSON.stringify(message)}`)
    // Redis: logout records one revocation, the session's (it covers the access token): the newest stream
    // entry. SQLite: the logout's transaction committed before it answered.
    const [entry] = admin === undefined ? [] : await admin.xrevrange(log, '+', '-', 'COUNT', 1)
    const earlier = admin === undefined ? answered : Number(entry?.[0].split('-')[0])
    if (i >= WARMUP) {
      propagation.push(message.at - started)
      fromRecorded.push(message.at - earlier)
      logoutRequest.push(answered - started)
    }
  }

  const redisVersion = SQLITE ? undefined : /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'
  const backend = redisVersion === undefined ? `SQLite file (better-sqlite3 ${JSON.parse(readFileSync('node_modules/better-sqlite3/package.json', 'utf8')).version as string}, WAL)` : `Redis ${redisVersion}`
  const p = summary(propagation)
  const r = summary(fromRecorded)
  const l = summary(logoutRequest)
  const ms = (n: number): string => n.toFixed(2)
  const lines = [
    `${COUNT} revocations (after ${WARMUP} warm-up), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${backend}${SQLITE ? '' : `, ${topology === 'single' ? 'one server' : topology}`}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), loopback, package ${JSON.parse(readFileSync('package.json', 'utf8')).version as string}.`,
    '',
    '| measure (ms) | p50 | p90 | p99 | max | mean |',
    '|---|---|---|---|---|---|',
    `| A's logout starts → B refuses the access token | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${ms(p.mean)} |`,
    SQLITE
      ? `| A's logout answered (committed to the file) → B refuses | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.mean)} |`
      : `| recorded in Redis (stream entry time, 1 ms resolution) → B refuses | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.mean)} |`,
    `| A's logout request (for comparison) | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.max)} | ${ms(l.mean)} |`
  ]
  process.stdout.write(lines.join('\n') + '\n')
  // For `npm run bench`, which puts the end-to-end figures in its summary table.
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ store: values.store, count: COUNT, endToEnd: p, fromRecorded: r, logoutRequest: l, backend, redis: redisVersion }))
  process.exitCode = p.p99 < 50 ? 0 : 1
} finally {
  for (const teardown of teardowns.reverse()) await teardown()
}
