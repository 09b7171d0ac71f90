/**
 * Response headers (docs/security.md rule 19): `Cache-Control: no-store` and the security headers on every auth
 * answer, successes and errors alike; HSTS only when cookies are Secure and the request came over TLS, as
 * seen directly or through a trusted proxy (a forged X-Forwarded-Proto changes nothing).
 */
import { test } from 'tap'
import { SECURITY_HEADERS } from '../../src/http/security-headers.js'
import { TEST_PASSWORD } from '../helper.js'
import { securityApp } from './kit.js'

const HSTS = 'max-age=31536000; includeSubDomains'

test('every auth answer, error or not, carries no-store and the security headers', async (t) => {
  const { app, alice, clock } = await securityApp(t, { env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '1', TRUSTED_ORIGINS: 'https://app.example.com' } })
  const sessionId = (await alice.request('GET', '/auth/session')).json().session.id as string
  const json = { 'content-type': 'application/json' }
  const requests: Array<[string, () => Promise<{ statusCode: number, headers: Record<string, unknown> }>, number]> = [
    ['GET session', async () => await alice.request('GET', '/auth/session'), 200],
    ['GET session without a cookie', async () => await app.inject({ method: 'GET', url: '/auth/session' }), 401],
    ['GET sessions', async () => await alice.request('GET', '/auth/sessions'), 200],
    ['GET sessions without a cookie', async () => await app.inject({ method: 'GET', url: '/auth/sessions' }), 401],
    ['login', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: { username: 'alice', password: TEST_PASSWORD } }), 200],
    ['login, bad password', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: { username: 'bob', password: 'wrong password' } }), 401],
    ['login, rate-limited', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: { username: 'bob', password: 'wrong password' } }), 429],
    ['login, invalid body', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: '{}' }), 400],
    ['login, broken JSON', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: '{' }), 400],
    ['login, text/plain', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'x' }), 415],
    ['login, too large', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: json, payload: JSON.stringify({ x: 'x'.repeat(9000) }) }), 413],
    ['login, cross-site', async () => await app.inject({ method: 'POST', url: '/auth/login', headers: { ...json, 'sec-fetch-site': 'cross-site' }, payload: '{}' }), 403],
    ['refresh', async () => { clock.advance(1); return await alice.request('POST', '/auth/refresh') }, 200],
    ['refresh without a cookie', async () => await app.inject({ method: 'POST', url: '/auth/refresh' }), 401],
    ['end another session, unknown id', async () => await alice.request('DELETE', '/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA'), 404],
    ['end a session, bad id', async () => await alice.request('DELETE', '/auth/sessions/..%2F..'), 400],
    ['end a session without a cookie', async () => await app.inject({ method: 'DELETE', url: `/auth/sessions/${sessionId}` }), 401],
    ['CORS preflight', async () => await app.inject({ method: 'OPTIONS', url: '/auth/login', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } }), 204],
    ['logout-all without a cookie', async () => await app.inject({ method: 'POST', url: '/auth/logout-all' }), 401],
    ['unknown auth route', async () => await app.inject({ method: 'GET', url: '/auth/nothing?token=x' }), 404],
    ['end a session, id over 100 characters (the router)', async () => await alice.request('DELETE', `/auth/sessions/${'A'.repeat(120)}`), 414],
    ['malformed percent-encoding (the router)', async () => await alice.request('DELETE', '/auth/sessions/%zz'), 400],
    ['unknown route', async () => await app.inject({ method: 'POST', url: '/elsewhere' }), 404],
    ['healthz', async () => await app.inject({ method: 'GET', url: '/healthz' }), 200],
    ['readyz', async () => await app.inject({ method: 'GET', url: '/readyz' }), 200],
    ['logout', async () => await alice.request('POST', '/auth/logout'), 204],
    ['logout without a session', async () => await app.inject({ method: 'POST', url: '/auth/logout' }), 204]
  ]
  for (const [name, send, status] of requests) {
    const response = await send()
    t.equal(response.statusCode, status, `${name}: ${status}`)
    t.equal(response.headers['cache-control'], 'no-store', `${name}: no-store`)
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(response.headers[header], value, `${name}: ${header}`)
    t.equal(response.headers['strict-transport-security'], undefined, `${name}: no HSTS over plain http`)
  }
  t.equal(SECURITY_HEADERS['content-security-policy'], "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
})

test('HSTS on the answers given before any route too: an over-long id or bad percent-encoding over https through a trusted proxy', async (t) => {
  const cases: Array<[string, Record<string, string>, string, Record<string, string>, string | undefined]> = [
    ['https through the trusted proxy', { TRUST_PROXY: '10.0.0.1' }, '10.0.0.1', { 'x-forwarded-proto': 'https' }, HSTS],
    ['https last of a list, through the trusted proxy', { TRUST_PROXY: '10.0.0.1' }, '10.0.0.1', { 'x-forwarded-proto': 'http, https' }, HSTS],
    ['X-Forwarded-Proto from anyone else', { TRUST_PROXY: '10.0.0.1' }, '203.0.113.9', { 'x-forwarded-proto': 'https' }, undefined],
    ['plain http through the proxy', { TRUST_PROXY: '10.0.0.1' }, '10.0.0.1', { 'x-forwarded-proto': 'http' }, undefined],
    ['https but COOKIE_SECURE=false', { TRUST_PROXY: '10.0.0.1', COOKIE_SECURE: 'false' }, '10.0.0.1', { 'x-forwarded-proto': 'https' }, undefined]
  ]
  for (const [name, env, remoteAddress, headers, expected] of cases) {
    const { app } = await securityApp(t, { login: false, env })
    const routed = await app.inject({ method: 'GET', url: '/auth/session', remoteAddress, headers })
    t.equal(routed.headers['strict-transport-security'], expected, `${name}: a routed answer (the reference)`)
    for (const [url, status] of [[`/auth/admin/users/${'a'.repeat(120)}`, 414], ['/auth/sessions/%zz', 400]] as const) {
      const response = await app.inject({ method: 'GET', url, remoteAddress, headers })
      t.equal(response.statusCode, status, `${name}, ${url.slice(0, 24)}: answered before any route`)
      t.equal(response.headers['strict-transport-security'], expected, `${name}, ${url.slice(0, 24)}: the same HSTS`)
    }
  }
})

test('HSTS: over TLS with Secure cookies, seen through a trusted proxy only', async (t) => {
  const cases: Array<[string, Record<string, string>, string, Record<string, string>, string | undefined]> = [
    ['https through the trusted proxy', { TRUST_PROXY: '10.0.0.1' }, '10.0.0.1', { 'x-forwarded-proto': 'https' }, HSTS],
    ['X-Forwarded-Proto from anyone else', { TRUST_PROXY: '10.0.0.1' }, '203.0.113.9', { 'x-forwarded-proto': 'https' }, undefined],
    ['X-Forwarded-Proto without TRUST_PROXY', {}, '127.0.0.1', { 'x-forwarded-proto': 'https' }, undefined],
    ['plain http through the proxy', { TRUST_PROXY: '10.0.0.1' }, '10.0.0.1', { 'x-forwarded-proto': 'http' }, undefined],
    ['https but COOKIE_SECURE=false', { TRUST_PROXY: '10.0.0.1', COOKIE_SECURE: 'false' }, '10.0.0.1', { 'x-forwarded-proto': 'https' }, undefined]
  ]
  for (const [name, env, remoteAddress, headers, expected] of cases) {
    const { app } = await securityApp(t, { login: false, env })
    for (const url of ['/auth/session', '/healthz', '/nowhere']) {
      const response = await app.inject({ method: 'GET', url, remoteAddress, headers })
      t.equal(response.headers['strict-transport-security'], expected, `${name}, ${url}`)
    }
  }
})
