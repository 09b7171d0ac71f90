/**
 * Cross-site requests to every state-changing route (docs/security.md rule 17): Fetch Metadata first, then Origin
 * against the service's own origin and TRUSTED_ORIGINS; neither header passes (curl). A refused request
 * answers 403 ERR_CSRF_REJECTED, changes nothing, rotates nothing, sets no cookie and writes an audit line.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { buildTestApp, CookieJar, client, TEST_PASSWORD, TEST_SECRET, type Client } from '../helper.js'
import { ACCESS, REFRESH, securityApp, type SecurityApp } from './kit.js'

const SELF = 'http://auth.example.com'
const TRUSTED = 'https://app.example.com'
const SIBLING = 'https://evil.example.com'
const FOREIGN = 'https://evil.example'

interface Scenario {
  name: string
  headers: Record<string, string>
  /** 'pass': the route does its normal work; else the expected refusal reason in the audit line. */
  expect: 'pass' | string
}

const scenarios: Scenario[] = [
  { name: 'cross-site', headers: { 'sec-fetch-site': 'cross-site', origin: FOREIGN }, expect: 'cross-site' },
  { name: 'cross-site from a trusted origin', headers: { 'sec-fetch-site': 'cross-site', origin: TRUSTED }, expect: 'cross-site' },
  { name: 'cross-site without Origin', headers: { 'sec-fetch-site': 'cross-site' }, expect: 'cross-site' },
  { name: 'sibling subdomain (same-site, untrusted)', headers: { 'sec-fetch-site': 'same-site', origin: SIBLING }, expect: 'same-site-untrusted' },
  { name: 'same-site without Origin', headers: { 'sec-fetch-site': 'same-site' }, expect: 'same-site-untrusted' },
  { name: 'same-site from a trusted origin', headers: { 'sec-fetch-site': 'same-site', origin: TRUSTED }, expect: 'pass' },
  { name: 'same-origin', headers: { 'sec-fetch-site': 'same-origin', origin: SELF }, expect: 'pass' },
  { name: 'same-origin without Origin', headers: { 'sec-fetch-site': 'same-origin' }, expect: 'pass' },
  { name: 'none (user-initiated)', headers: { 'sec-fetch-site': 'none' }, expect: 'pass' },
  { name: 'Sec-Fetch-Site upper case', headers: { 'sec-fetch-site': 'SAME-ORIGIN', origin: SELF }, expect: 'unknown-fetch-site' },
  { name: 'Sec-Fetch-Site two values', headers: { 'sec-fetch-site': 'same-origin, cross-site', origin: SELF }, expect: 'unknown-fetch-site' },
  { name: 'Sec-Fetch-Site empty', headers: { 'sec-fetch-site': '', origin: SELF }, expect: 'unknown-fetch-site' },
  { name: 'Origin null', headers: { origin: 'null' }, expect: 'null-origin' },
  { name: 'Origin null with same-origin', headers: { 'sec-fetch-site': 'same-origin', origin: 'null' }, expect: 'null-origin' },
  { name: 'no Fetch Metadata, own origin', headers: { origin: SELF }, expect: 'pass' },
  { name: 'no Fetch Metadata, trusted origin', headers: { origin: TRUSTED }, expect: 'pass' },
  { name: 'no Fetch Metadata, foreign origin', headers: { origin: FOREIGN }, expect: 'foreign-origin' },
  { name: 'no Fetch Metadata, sibling subdomain', headers: { origin: SIBLING }, expect: 'foreign-origin' },
  { name: 'no Fetch Metadata, own host over https', headers: { origin: 'https://auth.example.com' }, expect: 'foreign-origin' },
  { name: 'no Fetch Metadata, own host on another port', headers: { origin: 'http://auth.example.com:8080' }, expect: 'foreign-origin' },
  { name: 'no Fetch Metadata, own origin with a trailing slash', headers: { origin: `${SELF}/` }, expect: 'foreign-origin' },
  { name: 'no Fetch Metadata, own origin as a suffix', headers: { origin: 'http://auth.example.com.evil.example' }, expect: 'foreign-origin' },
  { name: 'no Fetch Metadata, empty Origin', headers: { origin: '' }, expect: 'foreign-origin' },
  { name: 'X-Forwarded-Host from an untrusted peer', headers: { origin: FOREIGN, 'x-forwarded-host': 'evil.example' }, expect: 'foreign-origin' },
  { name: 'neither header (curl)', headers: {}, expect: 'pass' },
  { name: 'neither header, cross-site Referer', headers: { referer: `${FOREIGN}/page` }, expect: 'pass' }
]

interface Route {
  method: 'POST' | 'DELETE'
  url: (session: string) => string
  body?: unknown
  /** Status when the request passes. */
  ok: number
}

const routes: Record<string, Route> = {
  login: { method: 'POST', url: () => '/auth/login', body: { username: 'alice', password: TEST_PASSWORD }, ok: 200 },
  refresh: { method: 'POST', url: () => '/auth/refresh', ok: 200 },
  logout: { method: 'POST', url: () => '/auth/logout', ok: 204 },
  'logout-all': { method: 'POST', url: () => '/auth/logout-all', ok: 204 },
  'end session': { method: 'DELETE', url: (id) => `/auth/sessions/${id}`, ok: 204 }
}

async function freshSession (s: SecurityApp): Promise<{ c: Client, id: string }> {
  const c = client(s.app, new CookieJar(s.clock.now))
  const response = await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { host: 'auth.example.com' })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode}`)
  return { c, id: response.json().session.id }
}

test('every state-changing route refuses cross-site requests and lets same-origin, trusted and non-browser ones through', async (t) => {
  const s = await securityApp(t, { login: false, env: { TRUSTED_ORIGINS: `${TRUSTED},https://other.example.com` } })
  let refused = 0
  for (const [routeName, route] of Object.entries(routes)) {
    for (const scenario of scenarios) {
      const name = `${routeName}, ${scenario.name}`
      const { c, id } = await freshSession(s)
      const before = { access: c.jar.get(ACCESS), refresh: c.jar.get(REFRESH) }
      s.clock.advance(1)
      const response = await c.request(route.method, route.url(id), route.body, { host: 'auth.example.com', ...scenario.headers })
      if (scenario.expect === 'pass') {
        t.equal(response.statusCode, route.ok, `${name}: passes`)
        continue
      }
      refused++
      t.equal(response.statusCode, 403, `${name}: 403`)
      t.same(response.json(), { statusCode: 403, code: 'ERR_CSRF_REJECTED', error: 'Forbidden', message: 'Cross-site request refused' }, `${name}: body`)
      t.equal(response.headers['set-cookie'], undefined, `${name}: no cookie set`)
      t.equal(response.headers['cache-control'], 'no-store', `${name}: no-store`)
      t.same({ access: c.jar.get(ACCESS), refresh: c.jar.get(REFRESH) }, before, `${name}: cookies untouched`)
      t.equal((await c.request('GET', '/auth/session')).statusCode, 200, `${name}: the session still works`)
      const line = s.logs.audits('csrf.rejected').at(-1)
      t.match(line, { reason: scenario.expect, method: route.method, level: 40 }, `${name}: audit line`)
      if (routeName !== 'login') t.match(line, { userId: s.aliceId, familyId: id }, `${name}: audit names user and family`)
    }
  }
  t.equal(s.logs.audits('csrf.rejected').length, refused, 'one audit line per refusal')
  t.equal(s.logs.audits('refresh.succeeded').length, scenarios.filter((x) => x.expect === 'pass').length, 'a refused refresh rotated nothing')
})

test('a refused refresh rotates nothing: the same refresh token rotates afterwards, once', async (t) => {
  const s = await securityApp(t)
  const refresh = s.alice.jar.get(REFRESH)
  const refusedResponse = await s.alice.request('POST', '/auth/refresh', undefined, { 'sec-fetch-site': 'cross-site', origin: FOREIGN })
  t.equal(refusedResponse.statusCode, 403)
  t.equal(s.alice.jar.get(REFRESH), refresh)
  s.clock.advance(60)
  t.equal((await s.alice.request('POST', '/auth/refresh')).statusCode, 200, 'rotates (it was never presented to the store)')
  t.equal(s.logs.audits('refresh.reuse_detected').length, 0, 'no reuse')
})

test('PUBLIC_ORIGIN pins the own origin: the Host header no longer counts', async (t) => {
  const s = await securityApp(t, { login: false, env: { PUBLIC_ORIGIN: 'https://auth.example.com' } })
  const cases: Array<[string, Record<string, string>, number]> = [
    ['the public origin behind a proxy with another Host', { host: '10.0.0.5:3000', origin: 'https://auth.example.com' }, 200],
    ['Origin matching a spoofed Host', { host: 'evil.example', origin: 'http://evil.example' }, 403],
    ['the Host-derived origin', { host: 'auth.example.com', origin: 'http://auth.example.com' }, 403]
  ]
  for (const [name, headers, status] of cases) {
    const response = await client(s.app).request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, headers)
    t.equal(response.statusCode, status, name)
  }
})

test('behind a trusted proxy the own origin follows X-Forwarded-Proto and -Host; from anyone else they change nothing', async (t) => {
  const s = await securityApp(t, { login: false, env: { TRUST_PROXY: '10.0.0.0/8' } })
  const forwarded = { host: 'internal:3000', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com', origin: 'https://auth.example.com' }
  const login = async (remoteAddress: string): Promise<number> => (await s.app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress,
    headers: { ...forwarded, 'content-type': 'application/json' },
    payload: { username: 'alice', password: TEST_PASSWORD }
  })).statusCode
  t.equal(await login('10.1.2.3'), 200, 'from the proxy')
  t.equal(await login('203.0.113.7'), 403, 'from a client claiming to be forwarded')
})

async function embedded (t: Test, trustedOrigins: string[] = []): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, {
    secret: TEST_SECRET,
    store: new MemorySessionStore(),
    verifyCredentials: async () => null,
    trustedOrigins
  })
  return app
}

test('embedding apps opt their own routes in with app.csrfProtection', async (t) => {
  const app = await embedded(t, [TRUSTED])
  let transfers = 0
  app.post('/transfer', { onRequest: app.csrfProtection }, async () => { transfers++; return { ok: true } })
  app.get('/balance', { onRequest: app.csrfProtection }, async () => ({ balance: 1 }))
  const cases: Array<[string, 'GET' | 'POST', string, Record<string, string>, number]> = [
    ['cross-site POST', 'POST', '/transfer', { 'sec-fetch-site': 'cross-site', origin: FOREIGN }, 403],
    ['sibling POST', 'POST', '/transfer', { 'sec-fetch-site': 'same-site', origin: SIBLING }, 403],
    ['Origin null POST', 'POST', '/transfer', { origin: 'null' }, 403],
    ['trusted same-site POST', 'POST', '/transfer', { 'sec-fetch-site': 'same-site', origin: TRUSTED }, 200],
    ['same-origin POST', 'POST', '/transfer', { 'sec-fetch-site': 'same-origin' }, 200],
    ['curl POST', 'POST', '/transfer', {}, 200],
    ['cross-site GET (safe method)', 'GET', '/balance', { 'sec-fetch-site': 'cross-site', origin: FOREIGN }, 200]
  ]
  for (const [name, method, url, headers, status] of cases) {
    const response = await app.inject({ method, url, headers })
    t.equal(response.statusCode, status, name)
    if (status === 403) t.equal(response.json().code, 'ERR_CSRF_REJECTED', `${name}: code`)
  }
  t.equal(transfers, 3, 'only the accepted requests ran the handler')
})

test('app.csrfProtection as an app-wide hook guards unsafe methods only', async (t) => {
  const app = Fastify({ exposeHeadRoutes: false })
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, { secret: TEST_SECRET, store: new MemorySessionStore(), verifyCredentials: async () => null })
  app.addHook('onRequest', app.csrfProtection)
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    app.route({ method, url: '/thing', handler: async (_request, reply) => await reply.code(204).send() })
  }
  for (const method of ['GET', 'HEAD', 'OPTIONS'] as const) {
    t.equal((await app.inject({ method, url: '/thing', headers: { 'sec-fetch-site': 'cross-site' } })).statusCode, 204, `${method} passes`)
  }
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    t.equal((await app.inject({ method, url: '/thing', headers: { 'sec-fetch-site': 'cross-site' } })).statusCode, 403, `${method} refused`)
  }
})

test('every POST, PUT, PATCH and DELETE route of the service runs the check, read from its OpenAPI description', async (t) => {
  // /openapi.json lists every API route (openapi.test.ts holds it to the routes Fastify has): a route added
  // later without `onRequest: csrf` fails here. Sign-up on, so its route exists.
  const app = await buildTestApp(t, { env: { SIGNUP: 'open' } })
  const paths = (await app.inject('/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>().paths
  const checked: string[] = []
  for (const [path, methods] of Object.entries(paths)) {
    // Envoy's check answers every method (the original request's) and changes nothing: docs/security.md.
    if (path.startsWith('/auth/envoy/')) continue
    for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
      if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) continue
      const url = path.replace(/\{\w+\}/g, 'x')
      const crossSite = await app.inject({ method: method as 'POST', url, headers: { 'sec-fetch-site': 'cross-site', origin: FOREIGN } })
      t.equal(crossSite.statusCode, 403, `${method} ${path}: cross-site refused`)
      t.equal(crossSite.json().code, 'ERR_CSRF_REJECTED', `${method} ${path}: by the CSRF check`)
      const plain = await app.inject({ method: method as 'POST', url })
      t.notMatch(plain.body, 'ERR_CSRF_REJECTED', `${method} ${path}: and not otherwise (a 204 has no body)`)
      checked.push(`${method} ${path}`)
    }
  }
  t.ok(checked.includes('POST /auth/signup') && checked.includes('POST /auth/reauth') && checked.includes('POST /auth/mfa/totp'), checked.join(', '))
  t.ok(checked.length >= 20, `${checked.length} routes`)
})
