/**
 * The plugin's metrics on the embedding app's own prom-client registry (`metricsRegistry`): registered there
 * and nowhere else, the app's routes left uncounted, a second registration on one registry refused.
 */
import Fastify from 'fastify'
import { Registry, register as globalRegistry } from 'prom-client'
import { test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { baseOptions, embeddingApp } from './plugin-helper.js'
import { parseMetrics, sample } from '../helpers/prometheus.js'

const P = 'stateless_session_'

test('metricsRegistry: the session metrics go to the app\'s registry, which the app serves itself', async (t) => {
  const registry = new Registry()
  const app = await embeddingApp(t, { metricsRegistry: registry }, async (app) => {
    app.get('/metrics', async (_request, reply) => await reply.type(registry.contentType).send(await registry.metrics()))
  })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'ada', password: 'analytical engine' } })
  t.equal(login.statusCode, 200)
  const cookie = (login.headers['set-cookie'] as string[]).map((c) => c.split(';')[0]).join('; ')
  t.equal((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie } })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/api/me' })).statusCode, 401)

  const s = parseMetrics((await app.inject({ method: 'GET', url: '/metrics' })).body)
  t.equal(sample(s, `${P}logins_total`, { outcome: 'succeeded' }), 1)
  t.equal(sample(s, `${P}access_checks_total`, { result: 'valid' }), 1)
  t.equal(sample(s, `${P}store_operation_duration_seconds_count`, { operation: 'createFamily', store: 'memory' }), 1)
  t.equal(sample(s, `${P}http_responses_total`, { route: '/auth/login', method: 'POST', status_class: '2xx' }), 1)
  t.notOk(s.text.includes('/api/me'), 'the app\'s own routes are not counted by the plugin')
  t.notOk(s.types.has('process_cpu_user_seconds_total'), 'Node\'s default metrics are the app\'s choice')
  t.equal(globalRegistry.getSingleMetric(`${P}logins_total`), undefined, 'nothing on prom-client\'s global registry')
})

test('metricsRegistry: a registry that already holds the metrics, or that is not a registry, stops the boot', async (t) => {
  const registry = new Registry()
  await embeddingApp(t, { metricsRegistry: registry })
  const again = Fastify()
  t.teardown(async () => await again.close())
  await t.rejects(async () => { await again.register(sessionPlugin, baseOptions({ metricsRegistry: registry })).ready() }, { code: 'ERR_INVALID_OPTION', message: /"metricsRegistry" already holds the stateless_session_\* metrics/ })

  const wrong = Fastify()
  t.teardown(async () => await wrong.close())
  await t.rejects(async () => { await wrong.register(sessionPlugin, baseOptions({ metricsRegistry: {} as unknown as Registry })).ready() }, { code: 'ERR_INVALID_OPTION', message: /"metricsRegistry" must be a prom-client Registry/ })
})

test('without metricsRegistry no metric is registered anywhere', async (t) => {
  await embeddingApp(t)
  t.equal(globalRegistry.getSingleMetric(`${P}logins_total`), undefined)
})

test('tracing options are checked at registration', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ tracing: 'yes' }, /"tracing" must be a boolean \(got "yes"\)/],
    [{ traceAccessCheckRatio: 2 }, /"traceAccessCheckRatio" must be a number from 0 to 1 \(got 2\)/],
    [{ traceAccessCheckRatio: -0.5 }, /"traceAccessCheckRatio" must be a number from 0 to 1/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    t.teardown(async () => await app.close())
    await t.rejects(async () => { await app.register(sessionPlugin, baseOptions(options)).ready() }, { code: 'ERR_INVALID_OPTION', message }, JSON.stringify(options))
  }
})
