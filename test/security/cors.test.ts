/**
 * CORS (docs/security.md rule 18): an explicit allowlist with credentials; never `*`, never a reflected unknown
 * origin, `Origin: null` refused, `Vary: Origin` on every answer.
 */
import Fastify from 'fastify'
import fastifyCors from '@fastify/cors'
import { test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { TEST_PASSWORD, TEST_SECRET } from '../helper.js'
import { securityApp } from './kit.js'

const TRUSTED = 'https://app.example.com'

function varies (header: string | string[] | number | undefined): boolean {
  return String(header ?? '').toLowerCase().split(',').map((v) => v.trim()).includes('origin')
}

test('preflights: the trusted origin gets exactly its own origin back with credentials, anyone else nothing', async (t) => {
  const { app } = await securityApp(t, { login: false, env: { TRUSTED_ORIGINS: `${TRUSTED},https://admin.example.com` } })
  const preflight = async (origin: string | undefined, url = '/auth/login') => await app.inject({
    method: 'OPTIONS',
    url,
    headers: { ...(origin === undefined ? {} : { origin }), 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
  })
  for (const url of ['/auth/login', '/auth/refresh', '/auth/logout', '/auth/logout-all', '/auth/sessions/abc', '/auth/session']) {
    const allowed = await preflight(TRUSTED, url)
    t.equal(allowed.statusCode, 204, `${url}: 204`)
    t.equal(allowed.headers['access-control-allow-origin'], TRUSTED, `${url}: the exact origin`)
    t.equal(allowed.headers['access-control-allow-credentials'], 'true', `${url}: credentials`)
    t.equal(allowed.headers['access-control-allow-methods'], 'GET, POST, DELETE')
    t.equal(allowed.headers['access-control-allow-headers'], 'content-type')
    t.equal(allowed.headers['access-control-max-age'], '600')
    t.ok(varies(allowed.headers.vary), `${url}: Vary: Origin`)
    t.equal(allowed.headers['cache-control'], 'no-store')
  }
  const hostile = [
    'https://evil.example',
    'null',
    'https://app.example.com.evil.example',
    'https://evil.app.example.com',
    'https://app.example.com:8443',
    'http://app.example.com',
    'HTTPS://APP.EXAMPLE.COM',
    'https://app.example.com/',
    `${TRUSTED}, https://evil.example`,
    '*',
    ''
  ]
  for (const origin of [...hostile, undefined]) {
    const response = await preflight(origin)
    const name = `preflight from ${JSON.stringify(origin)}`
    t.equal(response.statusCode, 404, `${name}: 404`)
    t.equal(response.json().code, 'ERR_ROUTE_NOT_FOUND', `${name}: code`)
    t.equal(response.headers['access-control-allow-origin'], undefined, `${name}: no allow-origin`)
    t.equal(response.headers['access-control-allow-credentials'], undefined, `${name}: no credentials`)
    t.ok(varies(response.headers.vary), `${name}: Vary: Origin`)
  }
})

test('actual requests: CORS headers for the trusted origin only, Vary: Origin always', async (t) => {
  const { app } = await securityApp(t, { login: false, env: { TRUSTED_ORIGINS: TRUSTED } })
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: { origin: TRUSTED, 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
    payload: { username: 'alice', password: TEST_PASSWORD }
  })
  t.equal(login.statusCode, 200)
  t.equal(login.headers['access-control-allow-origin'], TRUSTED)
  t.equal(login.headers['access-control-allow-credentials'], 'true')
  t.equal(login.headers['access-control-expose-headers'], 'date, retry-after', 'the client may read Date and Retry-After')
  t.ok(varies(login.headers.vary))
  for (const origin of ['https://evil.example', 'null', 'https://evil.example.com']) {
    const response = await app.inject({ method: 'GET', url: '/auth/session', headers: { origin } })
    t.equal(response.statusCode, 401, `${origin}: the route answers as usual`)
    t.equal(response.headers['access-control-allow-origin'], undefined, `${origin}: not allowed`)
    t.equal(response.headers['access-control-allow-credentials'], undefined, `${origin}: no credentials`)
    t.equal(response.headers['access-control-expose-headers'], undefined, `${origin}: nothing exposed`)
    t.ok(varies(response.headers.vary), `${origin}: Vary: Origin`)
  }
  const plain = await app.inject({ method: 'GET', url: '/auth/session' })
  t.ok(varies(plain.headers.vary), 'Vary: Origin without an Origin too')
  t.equal(plain.headers['access-control-allow-origin'], undefined)
})

test('without TRUSTED_ORIGINS there is no CORS at all', async (t) => {
  const { app } = await securityApp(t, { login: false })
  const preflight = await app.inject({ method: 'OPTIONS', url: '/auth/login', headers: { origin: TRUSTED, 'access-control-request-method': 'POST' } })
  t.equal(preflight.statusCode, 404)
  t.equal(preflight.headers['access-control-allow-origin'], undefined)
  const get = await app.inject({ method: 'GET', url: '/auth/session', headers: { origin: TRUSTED } })
  t.equal(get.headers['access-control-allow-origin'], undefined)
  t.equal(get.headers['access-control-allow-credentials'], undefined)
})

test('plugin option cors: false, and an app that brings its own @fastify/cors', async (t) => {
  const off = Fastify()
  t.teardown(async () => await off.close())
  await off.register(sessionPlugin, { secret: TEST_SECRET, store: new MemorySessionStore(), verifyCredentials: async () => null, trustedOrigins: [TRUSTED], cors: false })
  const response = await off.inject({ method: 'GET', url: '/auth/session', headers: { origin: TRUSTED } })
  t.equal(response.headers['access-control-allow-origin'], undefined, 'cors: false registers nothing')

  const warnings: string[] = []
  const own = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(line) } } } })
  t.teardown(async () => await own.close())
  await own.register(fastifyCors, { origin: ['https://own.example.com'], credentials: true })
  await own.register(sessionPlugin, { secret: TEST_SECRET, store: new MemorySessionStore(), verifyCredentials: async () => null, trustedOrigins: [TRUSTED] })
  await own.ready()
  t.match(warnings.join(''), /@fastify\/cors is registered by the app/, 'a warning says whose CORS applies')
  const owned = await own.inject({ method: 'GET', url: '/auth/session', headers: { origin: 'https://own.example.com' } })
  t.equal(owned.headers['access-control-allow-origin'], 'https://own.example.com', 'the app\'s own CORS governs')
})
