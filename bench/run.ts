/**
 * `npm run bench`: every contender side by side, in one run, and docs/benchmarks.md + docs/benchmarks.svg.
 *
 *   npm run bench                      full run (about 10 minutes), rewrites the generated part of the docs
 *   npm run bench -- --quick           a few seconds per step, writes into a temporary directory (smoke test)
 *   options: --rounds N --duration S --connections N --out DIR --no-propagation
 *            --only ID,ID   run only these contenders (e.g. bare,floor-cold,ours-cold), print their figures and
 *                           stop: no other measurement, no report written (for profiling and quick comparisons)
 *            --cpu-prof ID  run contender ID (e.g. ours-cold, refresh-sqlite) under `node --cpu-prof`; the
 *                           profiles land in bench-profiles/ (git-ignored), one per round
 *
 * Each contender is its own server process (bench/contenders/*), started one at a time and loaded by
 * autocannon from another process (bench/load.ts): same connections, duration and request for all. Before
 * loading, the runner asks each one for a few sessions' user ids and checks the answers. Rounds are
 * interleaved (every contender once per round) and medians are reported, with ratios to bare Fastify from
 * the same run. No figure is asserted: the report says which goals are met.
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'
import { startRedis } from '../test/helpers/redis-server.js'
import type { BenchSession } from './contenders/serve.js'
import { performance } from 'node:perf_hooks'
import type { LoadJob, LoadResult } from './load.js'
import { renderChart, renderReport, type Report, type ThroughputRow } from './report.js'
import { OUR_CODE } from './our-code.js'
import { BENCH_CREDENTIALS, median } from './shared.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    out: { type: 'string' },
    'no-propagation': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    only: { type: 'string' }
  }
})
const quick = values.quick
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 5))
const DURATION = Number(values.duration ?? (quick ? 1 : 6))
const WARMUP = quick ? 0 : 2
const CONNECTIONS = Number(values.connections ?? (quick ? 10 : 50))
const SESSIONS = quick ? 100 : 1000
/**
 * Cold tokens per round: more than the fastest cold server can take in the time (it must never see one twice;
 * the report counts repeats). @fastify/secure-session, the fastest, served about 37,000 requests/s quietly.
 */
// Enough never-seen tokens for the fastest cold row on a quiet machine (about 30,000 requests/s), quick or not.
const COLD_TOKENS = DURATION * 45_000
const COLD_WARMUP_TOKENS = quick ? 5_000 : WARMUP * 45_000
/** iron-session serves about a tenth of that: a quarter is plenty, and sealing is slow. */
const SLOW_SHARE = 4
/** Extra sessions at the end of each list, used only for the pre-load check. */
const CHECKS = 3
const SECRET = randomBytes(32).toString('base64url')
const root = fileURLToPath(new URL('..', import.meta.url))
const outDir = values.out ?? (quick ? mkdtempSync(join(tmpdir(), 'bench-quick-')) : join(root, 'docs'))
const work = mkdtempSync(join(tmpdir(), 'bench-run-'))
const teardowns: Array<() => unknown> = []

function log (message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

interface Contender {
  id: string
  label: string
  file: string
  env?: Record<string, string>
  kind: LoadJob['kind']
  /** Sessions file shared across rounds (cold tokens minted once), instead of the server's own. */
  sessionsFile?: string
  /** Measured sessions and warm-up sessions are different ranges of the list (cold). */
  distinctWarmup?: boolean
  /** Cores the server may use (default: core 0 alone). Several workers get both cores, shared with the loader. */
  serverCpus?: string
  /** Seconds measured, when not the run's. */
  durationSeconds?: number
}

interface Started {
  child: ChildProcess
  port: number
  sessionsFile: string
  stderr: () => string
}

async function startContender (contender: Contender, sessions: number, tag: string): Promise<Started> {
  const sessionsFile = join(work, `${contender.id}-${tag}.json`)
  let stderr = ''
  const profile = values['cpu-prof'] === contender.id ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench-profiles')}`] : []
  const child = fork(join(root, 'bench', 'contenders', contender.file), [], {
    execArgv: ['--import', 'tsx', ...profile],
    env: { ...process.env, NODE_ENV: 'production', BENCH_SECRET: SECRET, BENCH_SESSIONS: String(sessions), BENCH_SESSIONS_FILE: sessionsFile, ...contender.env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc']
  })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  pin(child.pid as number, contender.serverCpus ?? String(SERVER_CPU))
  const stop = (): void => { child.kill('SIGKILL') }
  teardowns.push(stop)
  const ready = await Promise.race([
    once(child, 'message') as Promise<[{ type: string, port: number }]>,
    once(child, 'exit').then(([code]) => { throw new Error(`${contender.id} exited (${String(code)}) before it was ready:\n${stderr}`) })
  ])
  return { child, port: ready[0].port, sessionsFile, stderr: () => stderr }
}

async function stopContender (started: Started): Promise<void> {
  if (started.child.exitCode !== null || started.child.signalCode !== null) return
  const exited = once(started.child, 'exit')
  started.child.kill('SIGTERM')
  await exited
}

/**
 * With two cores or more, the server runs on core 0 and the load generator on core 1 (`taskset`, all threads):
 * each contender gets one whole core, and the two never steal each other's time slices.
 */
const SERVER_CPU = 0
const LOADER_CPU = 1
const pinning = cpus().length >= 2 && spawnSync('taskset', ['--version']).status === 0
function pin (pid: number, cpu: number | string): void {
  if (pinning) execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', String(cpu), String(pid)], { stdio: 'ignore' })
}

/** CPU seconds (user + system, all threads) a process and its live child processes (workers) have used so far, from /proc. */
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  let children: number[] = []
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((c) => c !== '').map(Number)
  } catch {}
  return (Number(fields[11]) + Number(fields[12])) / 100 + children.reduce((sum, child) => sum + cpuSeconds(child), 0)
}

export interface Measured extends LoadResult {
  /** CPU used while measuring, in % of one core: shows which side was the limit. */
  serverCpu: number
  loaderCpu: number
}

async function load (job: LoadJob, serverPid: number): Promise<Measured> {
  const child = fork(join(root, 'bench', 'load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  teardowns.push(() => { child.kill('SIGKILL') })
  const pid = child.pid as number
  pin(pid, LOADER_CPU)
  let start = { at: 0, server: 0, loader: 0 }
  const answer = new Promise<Measured>((resolve, reject) => {
    child.on('message', (message: { type: 'measuring' } | { type: 'result', result: LoadResult } | { type: 'error', message: string }) => {
      if (message.type === 'measuring') {
        start = { at: performance.now(), server: cpuSeconds(serverPid), loader: cpuSeconds(pid) }
      } else if (message.type === 'result') {
        const seconds = (performance.now() - start.at) / 1000
        const share = (used: number): number => Math.round(100 * used / seconds)
        resolve({ ...message.result, serverCpu: share(cpuSeconds(serverPid) - start.server), loaderCpu: share(cpuSeconds(pid) - start.loader) })
      } else {
        reject(new Error(`load generator: ${message.message}`))
      }
    })
    child.on('exit', (code) => { reject(new Error(`load generator exited (${String(code)})`)) })
  })
  child.send(job)
  return await answer
}

function readSessions (file: string): BenchSession[] {
  return JSON.parse(readFileSync(file, 'utf8')) as BenchSession[]
}

/** The pre-load check: the contender answers each check session with that session's own user id. */
async function check (contender: Contender, port: number, sessions: BenchSession[]): Promise<void> {
  for (const session of sessions.slice(-CHECKS)) {
    const url = `http://127.0.0.1:${port}`
    const response = contender.kind === 'get'
      ? await fetch(`${url}/me`, { headers: { cookie: session.cookie } })
      : contender.kind === 'refresh'
        ? await fetch(`${url}/auth/refresh`, { method: 'POST', headers: { cookie: session.cookie } })
        : await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BENCH_CREDENTIALS) })
    const body = await response.json() as { userId?: string, user?: { id?: string } }
    const userId = contender.kind === 'get' ? body.userId : body.user?.id
    if (response.status !== 200 || userId !== session.userId) {
      throw new Error(`${contender.id} failed its check: ${response.status} ${JSON.stringify(body)}, expected user ${session.userId}`)
    }
  }
}

const cookieSizes = new Map<string, number>()

/**
 * Bare Fastify's requests carry a filler cookie the size of our access cookie (bench/contenders/bare.ts): the
 * warm row's ratio to bare would otherwise also measure the load generator's cost of the bigger cookie. A run
 * where the two drifted apart (our token grew) stops here instead of reporting a skewed ratio.
 */
function checkCookieSizes (id: string, sessions: BenchSession[]): void {
  if (id !== 'bare' && id !== 'ours-warm') return
  cookieSizes.set(id, Math.max(...sessions.map((s) => s.cookie.length)))
  const bare = cookieSizes.get('bare')
  const ours = cookieSizes.get('ours-warm')
  if (bare !== undefined && ours !== undefined && Math.abs(bare - ours) > 16) {
    throw new Error(`bare Fastify's cookie is ${bare} bytes, ours ${ours}: make the filler of bench/contenders/bare.ts match`)
  }
}

/** One contender, one round: start, check, warm up, measure, stop. */
async function measure (contender: Contender, round: number): Promise<Measured> {
  const sessions = contender.sessionsFile === undefined ? SESSIONS + CHECKS : 0
  const started = await startContender(contender, sessions, `r${round}`)
  try {
    const file = contender.sessionsFile ?? started.sessionsFile
    const list = readSessions(file)
    await check(contender, started.port, list)
    checkCookieSizes(contender.id, list)
    const url = `http://127.0.0.1:${started.port}`
    const usable = list.length - CHECKS
    const base = { kind: contender.kind, url, sessionsFile: file, connections: contender.kind === 'login' ? Math.min(CONNECTIONS, 8) : CONNECTIONS, credentials: BENCH_CREDENTIALS }
    // Cold: warm-up tokens come after the measured ones in the list, so the measured ones stay unseen.
    // Files minted smaller (iron-session's) keep the same split.
    const warm = Math.round(usable * COLD_WARMUP_TOKENS / (COLD_TOKENS + COLD_WARMUP_TOKENS))
    const ranges = contender.distinctWarmup === true
      ? { measured: { from: 0, use: usable - warm }, warmup: { from: usable - warm, use: warm } }
      : { measured: { from: 0, use: usable }, warmup: { from: 0, use: usable } }
    return await load({ ...base, ...ranges, distinct: contender.distinctWarmup === true, warmupSeconds: WARMUP, durationSeconds: contender.durationSeconds ?? DURATION }, started.child.pid as number)
  } catch (error) {
    throw new Error(`${contender.id}: ${String(error)}\n${started.stderr()}`)
  } finally {
    await stopContender(started)
  }
}

/** Cold cookies of one kind, minted once per run by a process of that kind that then exits. */
async function mintColdTokens (file: string, share = 1): Promise<string> {
  const count = Math.ceil((COLD_TOKENS + COLD_WARMUP_TOKENS) / share)
  log(`minting ${count} cold cookies with ${file} in a separate process`)
  const minter = await startContender({ id: `mint-${file}`, label: 'mint', file, env: { BENCH_MODE: 'mint' }, kind: 'get' }, count + CHECKS, 'cold')
  await once(minter.child, 'exit')
  return minter.sessionsFile
}

async function inProcess (what: 'verify' | 'denylist', count: number): Promise<Record<string, unknown>> {
  const child = fork(join(root, 'bench', 'in-process.ts'), [what, String(count)], {
    execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=4096'],
    env: { ...process.env, BENCH_SECRET: SECRET },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  teardowns.push(() => { child.kill('SIGKILL') })
  const [result] = await once(child, 'message') as [Record<string, unknown>]
  return result
}

async function propagation (store: 'redis' | 'sqlite'): Promise<Record<string, unknown> | undefined> {
  if (values['no-propagation']) return undefined
  const file = join(work, `propagation-${store}.json`)
  const args = ['--store', store, ...(quick ? ['--count', '20', '--warmup', '5'] : ['--count', '1000', '--warmup', '50'])]
  const child = fork(join(root, 'bench', 'propagation.ts'), [...args, '--json', file], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  teardowns.push(() => { child.kill('SIGKILL') })
  await once(child, 'exit')
  // The script exits non-zero when its p99 misses 50 ms; the figures are reported either way.
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
}

const QUICK_SKIPS = new Set(['secure-session', 'fastify-jwt', 'iron-session', 'refresh-sqlite-1-worker'])

async function main (): Promise<void> {
  const startedAt = new Date()
  const only = values.only?.split(',')
  const wanted = (...ids: string[]): boolean => only === undefined || ids.some((id) => only.includes(id))
  const coldFile = wanted('ours-cold', 'floor-cold') ? await mintColdTokens('stateless-session.ts') : ''
  const coldSecure = wanted('secure-session-cold') ? await mintColdTokens('secure-session.ts') : ''
  const coldJwt = wanted('fastify-jwt-cold') ? await mintColdTokens('fastify-jwt.ts') : ''
  const coldIron = wanted('iron-session-cold') ? await mintColdTokens('iron-session.ts', SLOW_SHARE) : ''
  const cold = (file: string): Pick<Contender, 'env' | 'sessionsFile' | 'distinctWarmup'> => ({ env: { BENCH_MODE: 'cold' }, sessionsFile: file, distinctWarmup: true })
  const redis = await startRedis({ teardown: (fn) => { teardowns.push(fn) } }, { aof: true, appendfsync: 'everysec' })

  const all: Contender[] = [
    { id: 'bare', label: 'bare Fastify (ceiling)', file: 'bare.ts', kind: 'get' },
    { id: 'floor-cold', label: 'floor: decrypt + HMAC + parse only, cold', file: 'floor.ts', kind: 'get', ...cold(coldFile) },
    { id: 'ours-warm', label: 'this project, warm', file: 'stateless-session.ts', env: { BENCH_MODE: 'warm' }, kind: 'get' },
    { id: 'ours-warm-metrics', label: 'this project, warm, with metrics on', file: 'stateless-session.ts', env: { BENCH_MODE: 'warm', BENCH_METRICS: '1' }, kind: 'get' },
    { id: 'ours-cold', label: 'this project, cold', file: 'stateless-session.ts', kind: 'get', ...cold(coldFile) },
    { id: 'secure-session', label: '@fastify/secure-session', file: 'secure-session.ts', kind: 'get' },
    { id: 'secure-session-cold', label: '@fastify/secure-session, cold', file: 'secure-session.ts', kind: 'get', ...cold(coldSecure) },
    { id: 'fastify-jwt', label: '@fastify/jwt (cookie)', file: 'fastify-jwt.ts', kind: 'get' },
    { id: 'fastify-jwt-cold', label: '@fastify/jwt (cookie), cold', file: 'fastify-jwt.ts', kind: 'get', ...cold(coldJwt) },
    { id: 'iron-session', label: 'iron-session', file: 'iron-session.ts', kind: 'get' },
    { id: 'iron-session-cold', label: 'iron-session, cold', file: 'iron-session.ts', kind: 'get', ...cold(coldIron) },
    { id: 'express-session', label: 'express + express-session', file: 'express-session.ts', kind: 'get' },
    { id: 'refresh-sqlite', label: 'refresh, SQLite store', file: 'service.ts', env: { BENCH_MODE: 'refresh', BENCH_STORE: 'sqlite' }, kind: 'refresh' },
    { id: 'refresh-redis', label: 'refresh, Redis store', file: 'service.ts', env: { BENCH_MODE: 'refresh', BENCH_STORE: 'redis', REDIS_URL: redis.url }, kind: 'refresh' },
    // WORKERS: the same SQLite refresh through node:cluster. One worker on both cores, then two: the load
    // generator shares those cores, so neither figure is a clean "per core" one (the CPU columns show the split).
    { id: 'refresh-sqlite-1-worker', label: 'refresh, SQLite, WORKERS=1 on 2 cores', file: 'service.ts', env: { BENCH_MODE: 'refresh', BENCH_STORE: 'sqlite' }, kind: 'refresh', serverCpus: '0,1' },
    { id: 'refresh-sqlite-2-workers', label: 'refresh, SQLite, WORKERS=2 on 2 cores', file: 'service.ts', env: { BENCH_MODE: 'refresh', BENCH_STORE: 'sqlite', BENCH_WORKERS: '2' }, kind: 'refresh', serverCpus: '0,1' }
  ]
  // The smoke test (--quick) skips the rows that only repeat another's code path with a different load: the
  // peers' warm rows (their cold rows run the same code) and WORKERS=1 (the plain SQLite refresh row).
  const contenders = only !== undefined ? all.filter((c) => only.includes(c.id)) : quick ? all.filter((c) => !QUICK_SKIPS.has(c.id)) : all
  const results = new Map<string, Measured[]>(contenders.map((c) => [c.id, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const contender of contenders) {
      log(`round ${round}/${ROUNDS}: ${contender.id}`)
      const result = await measure(contender, round)
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${contender.id}: ${result.non2xx} non-2xx answers and ${result.errors} errors under load`)
      results.get(contender.id)?.push(result)
    }
  }
  if (only !== undefined) {
    const bare = results.get('bare')
    for (const contender of contenders) {
      const runs = results.get(contender.id) as Measured[]
      const ratios = bare === undefined ? '' : `, ${runs.map((r, i) => `${(100 * r.requestsPerSecond / (bare[i]?.requestsPerSecond ?? NaN)).toFixed(0)}%`).join(' ')} of bare`
      log(`${contender.label}: ${runs.map((r) => Math.round(r.requestsPerSecond)).join(' ')} req/s by round${ratios}; server CPU ${runs.map((r) => r.serverCpu).join(' ')}%, repeats ${Math.max(...runs.map((r) => r.repeats))}`)
    }
    return
  }
  log('login (the configured argon2id cost)')
  // A login takes about 100 ms of hashing: the quick run's one second, with no warm-up, may see none finish.
  const login = await measure({ id: 'login', label: 'login', file: 'service.ts', env: { BENCH_MODE: 'login', BENCH_STORE: 'sqlite' }, kind: 'login', durationSeconds: Math.max(DURATION, 3) }, 0)
  log('in-process: cold verify cost')
  const verify = await inProcess('verify', quick ? 2000 : 40_000)
  log('in-process: denylist at scale')
  const denylist = await inProcess('denylist', quick ? 20_000 : 1_000_000)
  log('cross-instance propagation (Redis)')
  const propagated = await propagation('redis')
  log('cross-process propagation (SQLite)')
  const propagatedSqlite = await propagation('sqlite')

  // Ratios are taken round by round (each contender against bare Fastify of the same round), then the median:
  // the machine's speed drifts between rounds, and a ratio within one round cancels most of that drift.
  const bareRuns = (results.get('bare') as Measured[]).map((r) => r.requestsPerSecond)
  const rows: ThroughputRow[] = contenders.map((c) => {
    const runs = results.get(c.id) as Measured[]
    const rps = median(runs.map((r) => r.requestsPerSecond))
    return {
      id: c.id,
      label: c.label,
      kind: c.kind,
      requestsPerSecond: rps,
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      ratio: median(runs.map((r, i) => r.requestsPerSecond / (bareRuns[i] as number))),
      perRound: runs.map((r) => r.requestsPerSecond),
      repeats: Math.max(...runs.map((r) => r.repeats)),
      serverCpu: median(runs.map((r) => r.serverCpu)),
      loaderCpu: median(runs.map((r) => r.loaderCpu))
    }
  })
  const report: Report = {
    quick,
    date: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    command: quick ? 'npm run bench -- --quick' : 'npm run bench',
    code: OUR_CODE,
    machine: {
      node: process.version,
      cpu: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      os: `${process.platform} ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`,
      load: execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')
    },
    settings: { pinned: pinning, rounds: ROUNDS, durationSeconds: DURATION, warmupSeconds: WARMUP, connections: CONNECTIONS, sessions: SESSIONS, coldTokens: COLD_TOKENS },
    rows,
    login,
    verify: verify as unknown as Report['verify'],
    denylist: denylist as unknown as Report['denylist'],
    propagation: propagated as unknown as Report['propagation'],
    propagationSqlite: propagatedSqlite as unknown as Report['propagationSqlite']
  }
  mkdirSync(outDir, { recursive: true })
  const docFile = join(outDir, 'benchmarks.md')
  let existing = ''
  try { existing = readFileSync(docFile, 'utf8') } catch {}
  writeFileSync(docFile, renderReport(report, existing))
  writeFileSync(join(outDir, 'benchmarks.svg'), renderChart(report))
  writeFileSync(join(outDir, 'benchmarks.json'), JSON.stringify(report, null, 2) + '\n')
  log(`wrote ${docFile}, benchmarks.svg and benchmarks.json`)
  for (const row of rows) log(`${row.label}: ${Math.round(row.requestsPerSecond)} req/s (${(row.ratio * 100).toFixed(0)}% of bare)`)
}

try {
  await main()
} catch (error) {
  process.exitCode = 1
  log(`failed: ${error instanceof Error ? error.message : String(error)}`)
} finally {
  for (const teardown of teardowns.reverse()) await teardown()
  rmSync(work, { recursive: true, force: true })
}
