/**
 * Method overrides and forwarded-header spoofing (docs/security.md rules 17 and 20): no header or parameter turns
 * a safe request into a state-changing one or lets an unsafe one skip the CSRF check, and forwarded headers
 * from anyone but a trusted proxy change neither the client IP, nor the protocol, nor the host.
 */
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { FAST_HASH, tempDir, testEnv } from '../helper.js'
import { LogCapture, securityApp } from './kit.js'

const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override']

test('method overrides change nothing', async (t) => {
  const { alice, logs } = await securityApp(t)
  const sessionId = (await alice.request('GET', '/auth/session')).json().session.id as string
  const cases: Array<[string, string, string, Record<string, string>, number]> = []
  for (const header of OVERRIDES) {
    for (const url of ['/auth/logout', '/auth/logout-all', '/auth/refresh', '/auth/login']) {
      cases.push([`GET ${url} with ${header}: POST`, 'GET', url, { [header]: 'POST' }, 404])
      cases.push([`POST ${url} cross-site with ${header}: GET`, 'POST', url, { [header]: 'GET', 'sec-fetch-site': 'cross-site' }, 403])
    }
    cases.push([`POST /auth/sessions/:id with ${header}: DELETE`, 'POST', `/auth/sessions/${sessionId}`, { [header]: 'DELETE' }, 404])
    cases.push([`GET /auth/sessions/:id with ${header}: DELETE`, 'GET', `/auth/sessions/${sessionId}`, { [header]: 'DELETE' }, 404])
    cases.push([`DELETE cross-site with ${header}: GET`, 'DELETE', `/auth/sessions/${sessionId}`, { [header]: 'GET', 'sec-fetch-site': 'cross-site' }, 403])
    cases.push([`GET /auth/session with ${header}: DELETE`, 'GET', '/auth/session', { [header]: 'DELETE' }, 200])
  }
  cases.push(
    ['GET /auth/logout?_method=POST', 'GET', '/auth/logout?_method=POST', {}, 404],
    ['GET /auth/logout-all?_method=POST', 'GET', '/auth/logout-all?_method=POST', {}, 404],
    ['GET /auth/sessions/:id?_method=DELETE', 'GET', `/auth/sessions/${sessionId}?_method=DELETE`, {}, 404],
    ['POST /auth/logout?_method=GET cross-site', 'POST', '/auth/logout?_method=GET', { 'sec-fetch-site': 'cross-site' }, 403],
    ['HEAD /auth/logout', 'HEAD', '/auth/logout', {}, 404],
    ['PUT /auth/logout', 'PUT', '/auth/logout', {}, 404],
    ['PATCH /auth/refresh', 'PATCH', '/auth/refresh', {}, 404],
    ['POST /AUTH/LOGOUT', 'POST', '/AUTH/LOGOUT', {}, 404],
    ['POST /auth/logout/', 'POST', '/auth/logout/', {}, 404],
    ['OPTIONS /auth/logout with an override', 'OPTIONS', '/auth/logout', { 'x-http-method-override': 'POST', origin: 'https://evil.example' }, 404]
  )
  for (const [name, method, url, headers, status] of cases) {
    const response = await alice.request(method, url, undefined, headers)
    t.equal(response.statusCode, status, name)
    t.equal(response.headers['set-cookie'], undefined, `${name}: no cookie`)
  }
  t.equal((await alice.request('GET', '/auth/session')).statusCode, 200, 'the session is intact')
  t.equal(logs.audits('logout').length + logs.audits('logout_all').length + logs.audits('session.ended').length + logs.audits('refresh.succeeded').length, 0, 'nothing happened')
})

test('forwarded headers from a client that is not a trusted proxy are ignored everywhere', async (t) => {
  const logs = new LogCapture()
  const app = await buildApp({ passwordHashCost: FAST_HASH, logger: logs.logger(), env: testEnv({ DATA_DIR: tempDir(t), LOG_LEVEL: 'info', TRUST_PROXY: '10.0.0.1' }) })
  t.teardown(async () => await app.close())
  const spoofed = {
    'x-forwarded-for': '1.2.3.4',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'evil.example',
    forwarded: 'for=1.2.3.4;proto=https;host=evil.example',
    'x-real-ip': '1.2.3.4',
    'x-client-ip': '1.2.3.4'
  }
  app.get('/whoami', async (request) => ({ ip: request.ip, protocol: request.protocol, host: request.host }))
  t.same((await app.inject({ method: 'GET', url: '/whoami', remoteAddress: '203.0.113.9', headers: { host: 'auth.example.com', ...spoofed } })).json(),
    { ip: '203.0.113.9', protocol: 'http', host: 'auth.example.com' }, 'an ordinary client: its own address, protocol and host')
  t.same((await app.inject({ method: 'GET', url: '/whoami', remoteAddress: '10.0.0.1', headers: { host: 'internal', ...spoofed } })).json(),
    { ip: '1.2.3.4', protocol: 'https', host: 'evil.example' }, 'the trusted proxy: its X-Forwarded-* (never Forwarded or X-Real-IP)')
  const incoming = logs.records.filter((r) => r['msg'] === 'incoming request').map((r) => (r['req'] as { remoteAddress: string }).remoteAddress)
  t.same(incoming, ['203.0.113.9', '1.2.3.4'], 'logs show the same addresses')
})
