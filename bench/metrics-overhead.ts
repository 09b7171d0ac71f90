/**
 * `npx tsx bench/metrics-overhead.ts [--rounds N] [--requests N]`: the server CPU a warm protected request
 * costs with metrics off and on (the `ours-warm` and `ours-warm-metrics` contenders of `npm run bench`), by
 * interleaved rounds of a fixed number of requests each. CPU time per request, read from /proc, holds up
 * better than requests per second on a shared, busy machine, where throughput swings from round to round.
 * Prints the median of each and their ratio; nothing is asserted.
 */
import autocannon from 'autocannon'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { BenchSession } from './contenders/serve.js'
import { median } from './shared.js'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, requests: { type: 'string', default: '40000' } } })
const ROUNDS = Number(values.rounds)
const REQUESTS = Number(values.requests)
const root = fileURLToPath(new URL('..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'metrics-overhead-'))
const secret = randomBytes(32).toString('base64url')

function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function start (id: string, metrics: boolean): Promise<{ pid: number, port: number, cookies: string[], stop: () => void }> {
  const sessionsFile = join(work, `${id}.json`)
  const child = fork(join(root, 'bench', 'contenders', 'stateless-session.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_ENV: 'production', BENCH_SECRET: secret, BENCH_SESSIONS: '1000', BENCH_SESSIONS_FILE: sessionsFile, BENCH_MODE: 'warm', ...(metrics ? { BENCH_METRICS: '1' } : {}) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const [message] = await once(child, 'message') as [{ port: number }]
  const sessions = JSON.parse(readFileSync(sessionsFile, 'utf8')) as BenchSession[]
  return { pid: child.pid as number, port: message.port, cookies: sessions.map((s) => s.cookie), stop: () => { child.kill('SIGKILL') } }
}

async function load (port: number, cookies: string[], amount: number): Promise<void> {
  let next = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/me`,
    connections: 10,
    amount,
    requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length] as string } }) }]
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`)
}

const servers = { off: await start('off', false), on: await start('on', true) }
try {
  const perRequest: Record<'off' | 'on', number[]> = { off: [], on: [] }
  for (const server of Object.values(servers)) await load(server.port, server.cookies, 10_000)
  for (let round = 0; round < ROUNDS; round++) {
    for (const key of round % 2 === 0 ? ['off', 'on'] as const : ['on', 'off'] as const) {
      const server = servers[key]
      const before = cpuSeconds(server.pid)
      await load(server.port, server.cookies, REQUESTS)
      perRequest[key].push((cpuSeconds(server.pid) - before) / REQUESTS * 1e6)
    }
    process.stderr.write(`round ${round + 1}: off ${perRequest.off.at(-1)?.toFixed(1)} µs, on ${perRequest.on.at(-1)?.toFixed(1)} µs of server CPU per request\n`)
  }
  const off = median(perRequest.off)
  const on = median(perRequest.on)
  process.stdout.write(`server CPU per warm protected request, median of ${ROUNDS} rounds of ${REQUESTS}: metrics off ${off.toFixed(1)} µs, on ${on.toFixed(1)} µs; on/off ${(on / off).toFixed(3)}\n`)
} finally {
  servers.off.stop()
  servers.on.stop()
  rmSync(work, { recursive: true, force: true })
}
