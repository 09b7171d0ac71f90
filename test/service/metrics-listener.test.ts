/**
 * The metrics listener's failures (src/service/metrics-server.ts, cluster-metrics.ts): a METRICS_HOST that is
 * not an address of the machine, a listen error it has no words for, a metric that fails to collect, and a
 * WORKERS primary scraped while no worker runs. metrics.test.ts and metrics-workers.test.ts cover the
 * listeners that work.
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { promisify } from 'node:util'
import { Gauge } from 'prom-client'
import { test } from 'tap'
import { listenMetrics, listenMetricsPort } from '../../src/service/metrics-server.js'
import { buildTestApp } from '../helper.js'
import { captureLogs } from '../helpers/log-capture.js'

const run = promisify(execFile)

test('a METRICS_HOST that is not this machine\'s names METRICS_HOST, not HOST', async (t) => {
  const line = (host: string): string => `METRICS_HOST ${JSON.stringify(host)} is not an address of this machine: use 127.0.0.1, 0.0.0.0, or one of its addresses`
  // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
  for (const host of ['192.0.2.1', 'no-such-host.invalid']) {
    const server = createServer()
    await t.rejects(listenMetricsPort(server, { METRICS_PORT: '0', METRICS_HOST: host }), { code: 'ERR_INVALID_OPTION', message: line(host) }, host)
    t.equal(server.listening, false)
  }
})

test('a privileged METRICS_PORT names METRICS_PORT', { skip: process.getuid?.() === 0 ? 'root may listen on port 80' : false }, async (t) => {
  await t.rejects(listenMetricsPort(createServer(), { METRICS_PORT: '80', METRICS_HOST: '127.0.0.1' }), {
    code: 'ERR_INVALID_OPTION',
    message: 'METRICS_PORT 80 needs more privileges than this process has: choose a METRICS_PORT of 1024 or more'
  })
})

test('a listen error it has no words for comes through as it is', async (t) => {
  // A link-local IPv6 address without its interface (fe80::1%eth0) cannot be bound: EINVAL.
  await t.rejects(listenMetricsPort(createServer(), { METRICS_PORT: '0', METRICS_HOST: 'fe80::1' }), { code: 'EINVAL', syscall: 'listen' })
})

test('a metric that fails to collect: the scrape answers 500, the error is logged, the next scrape works', async (t) => {
  const logs = captureLogs('error')
  const app = await buildTestApp(t, { logger: logs.logger, env: { METRICS_PORT: '0', LOG_LEVEL: 'error' } })
  const registry = app.metricsRegistry
  if (registry === undefined) throw new Error('no metrics registry')
  let failing = true
  const gauge = new Gauge({
    name: 'test_flaky',
    help: 'fails to collect while `failing`',
    registers: [registry],
    collect () {
      if (failing) throw new Error('the source of this gauge is gone')
      gauge.set(1)
    }
  })
  const address = await listenMetrics(app)
  const url = `http://127.0.0.1:${String(address?.port)}/metrics`
  const failed = await fetch(url)
  t.equal(failed.status, 500)
  t.equal(failed.headers.get('cache-control'), 'no-store')
  t.equal(await failed.text(), 'metrics collection failed\n', 'no error text to the scraper')
  const [logged] = logs.messages('collecting metrics failed')
  t.match(logged, { level: 50, err: { message: 'the source of this gauge is gone' } }, 'the error in the log, with its message')
  failing = false
  const next = await fetch(url)
  t.equal(next.status, 200)
  t.match(await next.text(), /^test_flaky 1$/m)
})

test('a WORKERS primary scraped while no worker runs answers 503 and says why', async (t) => {
  const { stdout } = await run(process.execPath, [...process.execArgv, 'test/fixtures/processes/cluster-metrics-idle.ts'], { timeout: 60_000 })
  const answer = JSON.parse(stdout) as { status: number, cacheControl: string, text: string, log: string[] }
  t.equal(answer.status, 503, 'unavailable for now, not an error of the service')
  t.equal(answer.cacheControl, 'no-store')
  t.equal(answer.text, 'metrics unavailable: no worker is running (starting or restarting); try again\n')
  t.match(answer.log[0], /^info: metrics listener started: GET \/metrics on 127\.0\.0\.1:\d+, the workers' metrics aggregated$/)
  t.same(answer.log.slice(1), ['error: metrics unavailable: no worker is running'], 'logged once')
})

test('HEAD /metrics answers the headers only; a second listener for one app is refused', async (t) => {
  const app = await buildTestApp(t, { env: { METRICS_PORT: '0' } })
  const address = await listenMetrics(app)
  const url = `http://127.0.0.1:${String(address?.port)}/metrics`
  const head = await fetch(url, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.match(head.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.equal(await head.text(), '', 'no body')
  t.match(await (await fetch(url)).text(), /^# HELP /m, 'GET has it')
  await t.rejects(listenMetrics(app), { message: 'the metrics listener is already started' })
  t.equal((await fetch(url)).status, 200, 'the first listener still serves')
})
