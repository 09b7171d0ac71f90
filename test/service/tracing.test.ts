/**
 * OpenTelemetry tracing of the standalone service (TRACING=true), with an SDK registered as an operator would
 * (here: an in-memory exporter): HTTP spans from @fastify/otel continue the caller's W3C traceparent; login,
 * refresh and logout spans nest under them, the store operations under those, and sampled access checks
 * get their own span. No attribute ever holds a token, a cookie, a password or a username.
 */
import { SpanStatusCode } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { test } from 'tap'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { addUser, buildTestApp, client, CookieJar, ManualClock, TEST_PASSWORD } from '../helper.js'
import { embeddingApp } from '../http/plugin-helper.js'

const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
// As an operator's set-up file does: the global tracer provider, W3C trace-context propagator and async context.
provider.register()

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN = '00f067aa0ba902b7'

function named (spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name)
}

function one (spans: ReadableSpan[], name: string): ReadableSpan {
  const found = named(spans, name)
  if (found.length !== 1) throw new Error(`${found.length} spans named ${name}: ${spans.map((s) => s.name).join(', ')}`)
  return found[0] as ReadableSpan
}

test('TRACING=true: HTTP spans continue the caller\'s trace; login, refresh, logout, store and access-check spans nest under them', async (t) => {
  exporter.reset()
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { TRACING: 'true', TRACE_ACCESS_CHECK_RATIO: '1' } })
  await addUser(app)
  const c = client(app, new CookieJar(clock.now))
  const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`
  t.equal((await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { traceparent })).statusCode, 200)

  let spans = exporter.getFinishedSpans()
  const login = one(spans, 'session.login')
  t.equal(login.spanContext().traceId, TRACE_ID, 'the login runs in the caller\'s trace')
  t.equal(login.attributes['session.outcome'], 'succeeded')
  const http = spans.filter((span) => span.spanContext().traceId === TRACE_ID && span.parentSpanContext?.spanId === CALLER_SPAN)
  t.equal(http.length, 1, 'one span of @fastify/otel is the child of the caller\'s span')
  t.equal(http[0]?.attributes['http.route'], '/auth/login')
  t.equal(http[0]?.attributes['http.response.status_code'], 200)
  for (const operation of ['revocationMark', 'createFamily']) {
    const store = one(spans, `session.store ${operation}`)
    t.equal(store.parentSpanContext?.spanId, login.spanContext().spanId, `${operation} is a child of session.login`)
    t.same(store.attributes, { 'session.store': 'memory', 'db.operation.name': operation })
  }

  exporter.reset()
  t.equal((await c.request('GET', '/auth/session')).statusCode, 200)
  clock.advance(1)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: '__Secure-refresh=x.y.z.w.v' } })).statusCode, 401)
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  spans = exporter.getFinishedSpans()
  t.equal(one(spans, 'session.access_check').attributes['session.result'], 'valid')
  const refreshes = named(spans, 'session.refresh')
  t.same(refreshes.map((span) => span.attributes['session.outcome']), ['rotated', 'invalid'])
  t.equal(refreshes[0]?.attributes['session.generation'], 1)
  t.equal(refreshes[1]?.attributes['session.reason'], 'malformed')
  t.equal(one(spans, 'session.logout').attributes['session.outcome'], 'ended')
  t.equal(one(spans, 'session.store rotate').parentSpanContext?.spanId, refreshes[0]?.spanContext().spanId)
  t.ok(one(spans, 'session.store revokeFamily'))
  t.notOk(spans.some((span) => span.spanContext().traceId === TRACE_ID), 'requests without traceparent start their own traces')
})

test('no span attribute holds a token, a cookie, a password or a username', async (t) => {
  exporter.reset()
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { TRACING: 'true', TRACE_ACCESS_CHECK_RATIO: '1' } })
  const userId = await addUser(app)
  const c = client(app, new CookieJar(clock.now))
  await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  const wrong = await client(app).request('POST', '/auth/login', { username: 'alice', password: 'not the password' })
  t.equal(wrong.statusCode, 401)
  const secrets = ['alice', TEST_PASSWORD, 'not the password', userId, ...[...c.jar.cookies.values()].map((cookie) => cookie.value)]
  await c.request('GET', '/auth/session')
  clock.advance(1)
  await c.request('POST', '/auth/refresh')
  secrets.push(...[...c.jar.cookies.values()].map((cookie) => cookie.value))
  await c.request('POST', '/auth/logout')

  const spans = exporter.getFinishedSpans()
  t.ok(spans.length >= 10, `${spans.length} spans checked`)
  t.same(named(spans, 'session.login').map((span) => span.attributes['session.outcome']), ['succeeded', 'invalid_credentials'])
  for (const span of spans) {
    const text = JSON.stringify({ name: span.name, attributes: span.attributes, events: span.events, status: span.status, resource: span.resource.attributes })
    for (const secret of secrets) t.notOk(text.includes(secret), `${span.name}: no ${secret.slice(0, 10)}…`)
    t.notOk(/cookie|authorization|password/i.test(Object.keys(span.attributes).join(' ')), `${span.name}: no header or password attribute`)
  }
})

test('the plugin alone (tracing: true, no HTTP instrumentation): a store failure marks its spans as errors, by code only', async (t) => {
  exporter.reset()
  const store = new MemorySessionStore()
  store.createFamily = async () => { throw new Error('connection to 10.0.0.7 lost while writing family of alice') }
  const app = await embeddingApp(t, { tracing: true, store })
  const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'ada', password: 'analytical engine' } })
  t.equal(response.statusCode, 503)
  const spans = exporter.getFinishedSpans()
  const login = one(spans, 'session.login')
  t.equal(login.parentSpanContext, undefined, 'a root span without an HTTP span around it')
  t.equal(login.status.code, SpanStatusCode.ERROR)
  t.equal(login.attributes['error.type'], 'ERR_STORE_UNAVAILABLE')
  const failed = one(spans, 'session.store createFamily')
  t.equal(failed.parentSpanContext?.spanId, login.spanContext().spanId)
  t.same(failed.status, { code: SpanStatusCode.ERROR, message: 'Error' })
  t.notOk(JSON.stringify(spans.map((span) => [span.attributes, span.status, span.events])).includes('10.0.0.7'), 'no error message in any span')
})

test('TRACING=false (the default): no span at all, even with an SDK registered', async (t) => {
  exporter.reset()
  const app = await buildTestApp(t)
  await addUser(app)
  const c = client(app)
  await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` })
  await c.request('GET', '/auth/session')
  t.same(exporter.getFinishedSpans().map((span) => span.name), [])
})

test('traceAccessCheckRatio: 0 traces logins but no access check', async (t) => {
  exporter.reset()
  const app = await embeddingApp(t, { tracing: true, traceAccessCheckRatio: 0 })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'ada', password: 'analytical engine' } })
  const cookie = (login.headers['set-cookie'] as string[]).map((c) => c.split(';')[0]).join('; ')
  for (let i = 0; i < 20; i++) t.equal((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie } })).statusCode, 200)
  const names = exporter.getFinishedSpans().map((span) => span.name)
  t.ok(names.includes('session.login'))
  t.notOk(names.includes('session.access_check'))
})
