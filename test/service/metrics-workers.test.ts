/**
 * WORKERS=2 with METRICS_PORT: the real service as a cluster primary and two workers. The primary alone
 * serves the metrics port and answers each scrape with the workers' metrics aggregated (prom-client's
 * AggregatorRegistry): counters summed over workers, so N requests spread over both workers read N on every
 * scrape, not the share of whichever worker happened to answer. A worker that does not answer (stopped with
 * SIGSTOP here) makes the scrape answer 503 with a line saying why, after prom-client's timeout, not hang.
 */
import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import { Readable } from 'node:stream'
import { test } from 'tap'
import { runUsersCli } from '../../src/service/cli/users.js'
import { tempDir, TEST_PASSWORD, testEnv } from '../helper.js'
import { parseMetrics, sample, type Scrape } from '../helpers/prometheus.js'
import { freePort } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'
import { startServer, type RunningServer } from './server-process.js'

const P = 'stateless_session_'

interface Answer { status: number, cookie: string }

/** One request on a connection of its own (no keep-alive), so consecutive ones reach both workers. */
async function send (server: RunningServer, method: string, path: string, options: { cookie?: string, body?: unknown } = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const headers = { ...(options.cookie === undefined ? {} : { cookie: options.cookie }), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) }
    const req = httpRequest({ host: 'localhost', port: server.port, method, path, agent: false, headers }, (res) => {
      res.resume()
      const cookie = (res.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]).join('; ')
      res.on('end', () => { resolve({ status: res.statusCode as number, cookie }) })
    })
    req.on('error', reject)
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body))
  })
}

function logLines (server: RunningServer): Array<Record<string, unknown>> {
  return server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** A scrape that gives up after 15 s: a hang fails the test instead of stalling it (and a SIGSTOP is undone). */
async function get (url: string): Promise<{ status: number, type: string | null, text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) })
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() }
}

test('WORKERS=2: the primary serves the metrics port, with the workers\' counters summed', async (t) => {
  const metricsPort = await freePort()
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t), WORKERS: '2', LOG_LEVEL: 'info', METRICS_PORT: String(metricsPort), RATE_LIMIT_LOGIN_IP_MAX: '1000' })
  const added = await runUsersCli(['add', 'alice', '--password-stdin'], { stdin: Readable.from([TEST_PASSWORD]), out: () => {}, log: { write: () => {} }, env })
  t.equal(added, 0, 'user added')
  const server = await startServer(t, env)
  await waitFor('both workers to listen', () => server.output().match(/Server listening at/g)?.length ?? 0, (n) => n === 2)
  const workerPids = [...new Set(logLines(server).filter((l) => String(l['msg']).startsWith('Server listening')).map((l) => l['pid'] as number))]
  t.equal(workerPids.length, 2, 'two worker processes')
  const url = `http://127.0.0.1:${metricsPort}/metrics`

  const first = await waitFor('a scrape', async () => await get(url).catch(() => undefined), (answer) => answer?.status === 200)
  const answer = first as { status: number, type: string | null, text: string }
  t.match(answer.type, /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  const scraped = parseMetrics(answer.text)
  t.equal(sample(scraped, `${P}logins_total`, { outcome: 'invalid_credentials' }), 0, 'no failed login yet')
  t.equal(scraped.types.get(`${P}logins_total`), 'counter')
  t.equal(scraped.types.get(`${P}denylist_entries`), 'gauge')
  t.ok(scraped.types.has('process_cpu_user_seconds_total'), 'Node default metrics, summed over workers')
  t.notOk(scraped.types.has('process_start_time_seconds'), 'a start time has no meaning summed: omitted')
  const listeners = logLines(server).filter((l) => String(l['msg']).startsWith('metrics listener started'))
  t.equal(listeners.length, 1, 'one metrics listener')
  t.notOk(workerPids.includes(listeners[0]?.['pid'] as number), 'and it is the primary\'s, not a worker\'s')

  const N = 16
  for (let i = 0; i < N; i++) t.equal((await send(server, 'POST', '/auth/login', { body: { username: `nobody-${i}`, password: 'not the password!' } })).status, 401, `failed login ${i}`)
  const failures = await waitFor(`the ${N} login.failed audit lines`, () => logLines(server).filter((l) => l['audit'] === 'login.failed'), (lines) => lines.length >= N)
  const byPid = new Map<unknown, number>()
  for (const line of failures) byPid.set(line['pid'], (byPid.get(line['pid']) ?? 0) + 1)
  t.equal(byPid.size, 2, `the failed logins were served by both workers (${[...byPid.values()].join(' + ')})`)

  // Every scrape reads the whole service: with one worker answering each scrape, these read its share only.
  for (let i = 0; i < 6; i++) {
    const s = await get(url)
    t.equal(s.status, 200)
    const m: Scrape = parseMetrics(s.text)
    t.equal(sample(m, `${P}logins_total`, { outcome: 'invalid_credentials' }), N, `scrape ${i}: failed logins summed over the workers`)
    t.equal(sample(m, `${P}http_responses_total`, { route: '/auth/login', method: 'POST', status_class: '4xx' }), N, `scrape ${i}: 4xx login responses summed`)
  }

  // A logout: each worker's revocation view holds the one ended family. The gauge is the largest view, where a
  // sum would say 2.
  const login = await send(server, 'POST', '/auth/login', { body: { username: 'alice', password: TEST_PASSWORD } })
  t.equal(login.status, 200, 'logged in')
  t.equal((await send(server, 'POST', '/auth/logout', { cookie: login.cookie })).status, 204, 'logged out')
  await waitFor('both workers to refuse the ended session', async () => {
    const a = await send(server, 'GET', '/auth/session', { cookie: login.cookie })
    const b = await send(server, 'GET', '/auth/session', { cookie: login.cookie })
    return a.status === 401 && b.status === 401
  }, (both) => both)
  const afterLogout = parseMetrics((await get(url)).text)
  t.equal(sample(afterLogout, `${P}denylist_entries`), 1, 'the denylist gauge: the largest worker\'s view, not the sum')
  t.equal(sample(afterLogout, `${P}revocations_total`, { kind: 'family' }), 1, 'one revocation recorded, by the worker that served the logout')
  t.equal(sample(afterLogout, `${P}logins_total`, { outcome: 'succeeded' }), 1)
  t.equal(sample(afterLogout, `${P}revocation_view_stale`), 0)
  t.equal((await fetch(url.replace('/metrics', '/other'))).status, 404, 'only /metrics')

  // A worker that does not answer: the scrape says so with 503 once prom-client's 5 s timeout passes.
  const stopped = workerPids[0] as number
  process.kill(stopped, 'SIGSTOP')
  let unanswered
  try {
    unanswered = await get(url)
  } finally {
    process.kill(stopped, 'SIGCONT')
  }
  t.equal(unanswered.status, 503, 'a worker not answering: 503')
  t.match(unanswered.text, /not every worker answered/, 'with a line saying why')
  await waitFor('scrapes to answer again', async () => (await get(url)).status, (status) => status === 200)
  t.match(server.output(), /metrics unavailable: not every worker answered/, 'the primary logs it')

  t.equal(await server.stop(), 0, 'SIGTERM stops the primary and its workers cleanly')
})

test('WORKERS=2: a bad or busy metrics port stops the primary with one line, before any worker starts', async (t) => {
  const refusal = async (env: Record<string, string>): Promise<string> => {
    const error = await startServer(t, { STORE: 'sqlite', DATA_DIR: tempDir(t), WORKERS: '2', ...env }).then(() => undefined, (e: unknown) => e)
    if (!(error instanceof Error)) throw new Error('the service started')
    return error.message
  }
  const same = await refusal({ PORT: '9464', METRICS_PORT: '9464' })
  t.match(same, /^error: METRICS_PORT must differ from PORT \(9464\): metrics are never served on the public port$/m)
  t.notMatch(same, /starting 2 workers/, 'no worker forked')

  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const busy = await refusal({ METRICS_PORT: String(port) })
  t.match(busy, new RegExp(`^error: METRICS_PORT ${port} is already in use on 127\\.0\\.0\\.1: stop the other process or choose another METRICS_PORT$`, 'm'), 'the metrics port named, not PORT')
  t.notMatch(busy, /starting 2 workers/, 'no worker forked')
})
