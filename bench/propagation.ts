/**
 * How long a revocation made on instance A takes to be enforced on instance B, both over one Redis.
 *
 *   npm run bench:propagation -- [--count 1000] [--warmup 50] [--json file] [--topology single|sentinel|cluster]
 *
 * `--topology sentinel`: a primary, a replica and three Sentinels (REDIS_SENTINELS); `cluster`: three primaries
 * (REDIS_CLUSTER_NODES). Default: one server.
 *
 * A private redis-server (AOF, appendfsync everysec) on a free port; instance A in this process, instance B
 * in a child process (bench/propagation-instance.ts), each with its own connections. For each sample:
 * B starts checking one access token in a loop (its real access check: `sessions.authenticate`, in memory);
 * A logs that session out through POST /auth/logout; B reports the moment the token is first refused.
 * Latency = that moment minus the moment A's logout request started, and minus the moment Redis recorded the
 * revocation (the millisecond in its stream entry id). All times come from the one machine clock.
 * Prints a Markdown table for docs/benchmarks.md; exits non-zero when the p99 misses the 50 ms goal.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/service/app.js'
import { closeRedis, connectRedis } from '../src/stores/redis-client.js'
import { startRedis } from '../test/helpers/redis-server.js'
import type { Test } from 'tap'
import { startRedisCluster } from '../test/helpers/redis-cluster.js'
import { SENTINEL_NAME, startSentinelSet } from '../test/helpers/redis-sentinel.js'
import { parseRedisAddress } from '../src/stores/redis-client.js'
import type { ChildMessage, ParentMessage } from './propagation-instance.js'

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, warmup: { type: 'string', default: '50' }, json: { type: 'string' }, topology: { type: 'string', default: 'single' } } })
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
  const holder = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }
  const topology = values.topology
  let redisEnv: Record<string, string>
  let admin: Awaited<ReturnType<typeof connectRedis>>
  if (topology === 'sentinel') {
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
  teardowns.push(async () => { await closeRedis(admin) })
  const log = topology === 'cluster' ? 'session:{log}:revocations' : 'session:revocations'
  const env = { NODE_ENV: 'test', STORE: 'redis', ...redisEnv, SESSION_SECRET: SECRET, LOG_LEVEL: 'silent', DATA_DIR: '/tmp/propagation-bench' }
  const a = await buildApp({ env, passwordHashCost: CHEAP_HASH })
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
    // Logout records one revocation, the session's (it covers the access token): the newest stream entry.
    const [entry] = await admin.xrevrange(log, '+', '-', 'COUNT', 1)
    const earlier = Number(entry?.[0].split('-')[0])
    if (i >= WARMUP) {
      propagation.push(message.at - started)
      fromRecorded.push(message.at - earlier)
      logoutRequest.push(answered - started)
    }
  }

  const redisVersion = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown'
  const p = summary(propagation)
  const r = summary(fromRecorded)
  const l = summary(logoutRequest)
  const ms = (n: number): string => n.toFixed(2)
  const lines = [
    `${COUNT} revocations (after ${WARMUP} warm-up), Redis ${topology === 'single' ? 'one server' : topology}, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, Redis ${redisVersion}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), loopback, package ${JSON.parse(readFileSync('package.json', 'utf8')).version as string}.`,
    '',
    '| measure (ms) | p50 | p90 | p99 | max | mean |',
    '|---|---|---|---|---|---|',
    `| A's logout starts → B refuses the access token | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${ms(p.mean)} |`,
    `| recorded in Redis (stream entry time, 1 ms resolution) → B refuses | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.mean)} |`,
    `| A's logout request (for comparison) | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.max)} | ${ms(l.mean)} |`
  ]
  process.stdout.write(lines.join('\n') + '\n')
  // For `npm run bench`, which puts the end-to-end figures in its summary table.
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ count: COUNT, endToEnd: p, fromRecorded: r, logoutRequest: l, redis: redisVersion }))
  process.exitCode = p.p99 < 50 ? 0 : 1
} finally {
  for (const teardown of teardowns.reverse()) await teardown()
}
