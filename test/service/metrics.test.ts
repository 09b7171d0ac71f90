/**
 * The standalone service's Prometheus metrics, scraped from the real metrics listener (METRICS_PORT) while
 * real requests move every counter: logins, refreshes (rotated, replayed, reuse), access checks (valid,
 * invalid, revoked, cache hits), revocations by kind, rate-limit refusals, store latency, auth responses.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { listenMetrics, serviceRegistry } from '../../src/service/metrics-server.js'
import { unmatchedResponses } from '../../src/http/metrics.js'
import { addUser, buildTestApp, client, CookieJar, FAST_HASH, loggedIn, ManualClock, TEST_PASSWORD, testEnv, tempDir } from '../helper.js'
import { sample, scrape } from '../helpers/prometheus.js'
import { freePort, startRedis } from '../helpers/redis-server.js'
import { startServer } from './server-process.js'
import { waitFor } from '../helpers/wait-for.js'

const P = 'stateless_session_'

async function metricsApp (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}, clock = new ManualClock()) {
  const app = await buildTestApp(t, { clock: clock.now, env: { METRICS_PORT: '0', ...env } })
  const address = await listenMetrics(app)
  if (address === undefined) throw new Error('no metrics listener')
  return { app, clock, url: `http://127.0.0.1:${address.port}/metrics`, address }
}

test('the metrics listener serves every documented metric, on its own loopback port only', async (t) => {
  const { app, url, address } = await metricsApp(t)
  t.equal(address.address, '127.0.0.1', 'METRICS_HOST defaults to loopback')
  t.not(address.port, 0)
  const first = await scrape(url)
  for (const outcome of ['succeeded', 'invalid_credentials', 'credentials_changed', 'too_slow', 'error']) {
    t.equal(sample(first, `${P}logins_total`, { outcome }), 0, `logins ${outcome} starts at 0`)
  }
  for (const result of ['valid', 'invalid', 'expired', 'revoked', 'stale']) t.equal(sample(first, `${P}access_checks_total`, { result }), 0, `access ${result}`)
  t.equal(first.types.get(`${P}store_operation_duration_seconds`), 'histogram')
  t.equal(first.types.get(`${P}denylist_entries`), 'gauge')
  t.equal(sample(first, `${P}revocation_view_stale`), 0)
  t.ok(first.types.has('process_cpu_user_seconds_total') && first.types.has('nodejs_eventloop_lag_seconds'), 'Node default metrics')

  const response = await fetch(url)
  t.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.equal((await fetch(url.replace('/metrics', '/other'))).status, 404, 'only /metrics')
  t.equal((await fetch(url, { method: 'POST' })).status, 404, 'only GET')
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'never on the public port')
})

test('logins, refreshes, access checks, revocations and rate limits are counted by outcome', async (t) => {
  const { app, clock, url } = await metricsApp(t, { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '2' })
  const userId = await addUser(app)
  const c = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const wrong = client(app)
  t.equal((await wrong.request('POST', '/auth/login', { username: 'alice', password: 'wrong password!' })).statusCode, 401)
  for (let i = 0; i < 3; i++) await wrong.request('POST', '/auth/login', { username: 'mallory', password: 'wrong password!' })

  for (let i = 0; i < 3; i++) t.equal((await c.request('GET', '/auth/session')).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/auth/session', headers: { cookie: '__Host-session=not.a.token.at.all' } })).statusCode, 401)

  // Rotation, a replay inside the grace window, then the first token again after it: reuse.
  const gen0 = c.jar.clone()
  clock.advance(1)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  t.equal((await client(app, gen0.clone()).request('POST', '/auth/refresh')).statusCode, 200, 'replayed in grace')
  clock.advance(60)
  const access = c.jar.get('__Host-session') as string
  t.equal((await client(app, gen0.clone()).request('POST', '/auth/refresh')).statusCode, 401, 'reuse')
  t.equal((await app.inject({ method: 'GET', url: '/auth/session', headers: { cookie: `__Host-session=${access}` } })).statusCode, 401, 'revoked')
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: '__Secure-refresh=garbage' } })).statusCode, 401, 'invalid')

  const other = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  t.equal((await other.request('POST', '/auth/logout')).statusCode, 204)
  const third = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  t.equal((await third.request('POST', '/auth/logout-all')).statusCode, 204)

  const s = await scrape(url)
  t.equal(sample(s, `${P}logins_total`, { outcome: 'succeeded' }), 3)
  t.equal(sample(s, `${P}logins_total`, { outcome: 'invalid_credentials' }), 3, 'alice once, mallory twice before the limit')
  t.equal(sample(s, `${P}rate_limited_total`, { limit: 'login', scope: 'account' }), 1)
  t.equal(sample(s, `${P}rate_limited_total`, { limit: 'refresh', scope: 'ip' }), 0)
  t.equal(sample(s, `${P}refreshes_total`, { outcome: 'rotated' }), 1)
  t.equal(sample(s, `${P}refreshes_total`, { outcome: 'replayed' }), 1)
  t.equal(sample(s, `${P}refreshes_total`, { outcome: 'reuse_detected' }), 1)
  t.equal(sample(s, `${P}refreshes_total`, { outcome: 'invalid' }), 1)
  t.equal(sample(s, `${P}access_checks_total`, { result: 'valid' }), 4, 'three reads, and logout-all\'s requireSession')
  t.equal(sample(s, `${P}access_checks_total`, { result: 'invalid' }), 1)
  t.equal(sample(s, `${P}access_checks_total`, { result: 'revoked' }), 1)
  t.ok((sample(s, `${P}access_check_cache_hits_total`) ?? 0) >= 1, 'the third read came from the cache')
  t.equal(sample(s, `${P}revocations_total`, { kind: 'family' }), 3, 'reuse, logout, and the one live session logout-all ended')
  t.equal(sample(s, `${P}revocations_total`, { kind: 'subject' }), 1, 'logout-all')
  t.equal(sample(s, `${P}revocations_total`, { kind: 'token' }), 0)
  t.ok((sample(s, `${P}denylist_entries`) ?? 0) >= 3)
  t.equal(sample(s, `${P}store_operation_duration_seconds_count`, { operation: 'rotate', store: 'memory' }), 3)
  t.equal(sample(s, `${P}store_operation_duration_seconds_count`, { operation: 'createFamily', store: 'memory' }), 3)
  t.equal(sample(s, `${P}http_responses_total`, { route: '/auth/login', method: 'POST', status_class: '2xx' }), 3)
  t.equal(sample(s, `${P}http_responses_total`, { route: '/auth/login', method: 'POST', status_class: '4xx' }), 4)
  t.equal(sample(s, `${P}http_responses_total`, { route: '/auth/refresh', method: 'POST', status_class: '4xx' }), 2)

  // Labels hold fixed words only: no user id, username or token anywhere in the scrape.
  for (const secret of [userId, 'alice', 'mallory', access, ...[...c.jar.cookies.values()].map((cookie) => cookie.value)]) {
    t.notOk(s.text.includes(secret), `the scrape never contains ${secret.slice(0, 12)}…`)
  }
})

test('answers given before any route are counted as route "unmatched": router errors by method, parser errors as method "unknown"', async (t) => {
  const { app, url } = await metricsApp(t)
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/sessions/%zz' })).statusCode, 400)
  t.equal((await app.inject({ method: 'GET', url: `/auth/admin/users/${'a'.repeat(120)}` })).statusCode, 414)
  t.equal((await app.inject({ method: 'GET', url: `/auth/admin/users/${'b'.repeat(120)}` })).statusCode, 414)
  const socket = { written: [] as string[], destroyed: false, writable: true, write: (s: string) => { socket.written.push(s); return true }, destroy: () => { socket.destroyed = true } }
  app.server.emit('clientError', Object.assign(new Error('too large'), { code: 'HPE_HEADER_OVERFLOW' }), socket)
  t.match(socket.written.join(''), /^HTTP\/1\.1 431 /)
  const reset = { ...socket, written: [] as string[] }
  app.server.emit('clientError', Object.assign(new Error('reset'), { code: 'ECONNRESET' }), reset)

  const s = await scrape(url)
  t.equal(sample(s, `${P}http_responses_total`, { route: 'unmatched', method: 'DELETE', status_class: '4xx' }), 1, 'malformed percent-encoding')
  t.equal(sample(s, `${P}http_responses_total`, { route: 'unmatched', method: 'GET', status_class: '4xx' }), 2, 'ids over 100 characters')
  t.equal(sample(s, `${P}http_responses_total`, { route: 'unmatched', method: 'unknown', status_class: '4xx' }), 1, 'oversized headers; a reset connection got no answer and is not counted')
  t.throws(() => unmatchedResponses(serviceRegistry()), /http_responses_total is not registered/, 'a registry without the session metrics is a programming error, said at once')
})

test('forward-auth answers are counted too: the 5xx alert sees a stale view, the dashboards a misconfigured proxy', async (t) => {
  const { app, url, clock } = await metricsApp(t)
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  t.equal((await c.request('GET', '/auth/verify')).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/auth/verify' })).statusCode, 401)
  t.equal((await c.request('GET', '/auth/verify?role=Not%20A%20Role!')).statusCode, 400)
  const s = await scrape(url)
  t.equal(sample(s, `${P}http_responses_total`, { route: '/auth/verify', method: 'GET', status_class: '2xx' }), 1)
  t.equal(sample(s, `${P}http_responses_total`, { route: '/auth/verify', method: 'GET', status_class: '4xx' }), 2, 'no session, and a policy the service refuses')
})

test('metrics are off without METRICS_PORT, and never share the public port', async (t) => {
  const app = await buildTestApp(t)
  t.equal(app.metricsRegistry, undefined)
  t.equal(await listenMetrics(app), undefined, 'no listener')
  await t.rejects(buildApp({ passwordHashCost: FAST_HASH, env: testEnv({ DATA_DIR: tempDir(t), PORT: '9464', METRICS_PORT: '9464' }) }),
    { code: 'ERR_INVALID_OPTION', message: /METRICS_PORT must differ from PORT \(9464\)/ })
  await t.rejects(buildApp({ passwordHashCost: FAST_HASH, env: testEnv({ DATA_DIR: tempDir(t), METRICS_PORT: '99999' }) }), { message: /METRICS_PORT/ })
  await t.rejects(buildApp({ passwordHashCost: FAST_HASH, env: testEnv({ DATA_DIR: tempDir(t), METRICS_PORT: 'x' }) }), { message: /METRICS_PORT/ })
})

test('a metrics port in use is refused naming METRICS_PORT, not PORT', async (t) => {
  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => { taken.close() })
  const port = (taken.address() as { port: number }).port
  const app = await buildTestApp(t, { env: { METRICS_PORT: String(port) } })
  await t.rejects(listenMetrics(app), { code: 'ERR_INVALID_OPTION', message: `METRICS_PORT ${port} is already in use on 127.0.0.1: stop the other process or choose another METRICS_PORT` })
})

test('a client without cookies is not counted as an access check', async (t) => {
  const { app, url } = await metricsApp(t)
  await client(app, new CookieJar()).request('GET', '/auth/session')
  t.equal(sample(await scrape(url), `${P}access_checks_total`, { result: 'invalid' }), 0)
})

test('with Redis: the revocation view\'s lag and staleness, store errors and 503s show while Redis is down', async (t) => {
  const redis = await startRedis(t)
  const clock = new ManualClock(Date.now())
  const { app, url } = await metricsApp(t, { STORE: 'redis', REDIS_URL: redis.url, REDIS_MAX_STALENESS_SECONDS: '1', REDIS_COMMAND_TIMEOUT_MS: '200' }, clock)
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const s = await scrape(url)
  t.equal(sample(s, `${P}revocation_view_stale`), 0)
  t.ok((sample(s, `${P}revocation_sync_lag_seconds`) ?? 99) < 1, 'confirmed within the last second')
  t.equal(sample(s, `${P}store_errors_total`, { operation: 'revokeFamily', store: 'redis' }), undefined, 'no error yet')
  t.equal(sample(s, `${P}store_operation_duration_seconds_count`, { operation: 'createFamily', store: 'redis' }), 1)

  await redis.stop()
  const stale = await waitFor('the view to go stale', async () => await scrape(url), (m) => sample(m, `${P}revocation_view_stale`) === 1)
  t.ok((sample(stale, `${P}revocation_sync_lag_seconds`) ?? 0) > 1, 'lag past the staleness limit')
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 503, 'logout cannot record its revocation')
  t.equal((await c.request('GET', '/auth/sessions')).statusCode, 503, 'a protected route refuses to vouch for the session')
  const down = await scrape(url)
  t.equal(sample(down, `${P}store_errors_total`, { operation: 'revokeFamily', store: 'redis' }), 1)
  t.equal(sample(down, `${P}access_checks_total`, { result: 'stale' }), 1)
  t.equal(sample(down, `${P}http_responses_total`, { route: '/auth/logout', method: 'POST', status_class: '5xx' }), 1)

  await redis.start()
  await waitFor('the view to be fresh again', async () => await scrape(url), (m) => sample(m, `${P}revocation_view_stale`) === 0)
  t.pass('fresh again once Redis is back')
})

test('the real server process (as `npm start` runs it) serves metrics on METRICS_PORT, and closes them on SIGTERM', async (t) => {
  const metricsPort = await freePort()
  const server = await startServer(t, { STORE: 'memory', METRICS_PORT: String(metricsPort) })
  const url = `http://127.0.0.1:${metricsPort}/metrics`
  const s = await waitFor('the metrics listener', async () => await scrape(url).catch(() => undefined), (m) => m !== undefined)
  t.equal(sample(s as Awaited<ReturnType<typeof scrape>>, `${P}logins_total`, { outcome: 'succeeded' }), 0)
  t.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status, 404, 'not on the public port')
  t.match(server.output(), /metrics listener started: GET \/metrics/)
  t.equal(await server.stop(), 0, 'graceful shutdown with the metrics listener open')
})
