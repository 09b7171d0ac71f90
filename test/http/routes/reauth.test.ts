/**
 * Freshness: auth_time and amr in the tokens, POST /auth/reauth, and the recent-authentication guard on the
 * sensitive routes (RFC 9470 challenges).
 */
import Fastify from 'fastify'
import { test } from 'tap'
import sessionPlugin from '../../../src/http/plugin.js'
import { MemorySessionStore } from '../../../src/stores/memory-session-store.js'
import { addUser, buildTestApp, client, CookieJar, loggedIn, ManualClock, TEST_PASSWORD, TEST_SECRET } from '../../helper.js'

const CHALLENGE = 'Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=300'

test('an old authentication is refused on logout-all, ending other sessions and the admin routes, with the RFC 9470 challenge', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice', TEST_PASSWORD, ['admin'])
  const laptop = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const phone = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const phoneId = (await phone.request('GET', '/auth/session')).json().session.id as string
  clock.advance(301)
  await laptop.request('POST', '/auth/refresh')
  for (const [method, url] of [['POST', '/auth/logout-all'], ['DELETE', '/auth/sessions'], ['DELETE', `/auth/sessions/${phoneId}`], ['GET', '/auth/admin/users']] as const) {
    const response = await laptop.request(method, url)
    t.equal(response.statusCode, 401, `${method} ${url}`)
    t.equal(response.json().code, 'ERR_REAUTH_REQUIRED')
    t.equal(response.headers['www-authenticate'], CHALLENGE)
    t.equal(response.headers['cache-control'], 'no-store')
  }
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 200, 'nothing was ended')
  t.equal((await laptop.request('GET', '/auth/sessions')).statusCode, 200, 'reading the own sessions needs no recent authentication')
  const own = (await laptop.request('GET', '/auth/session')).json().session.id as string
  t.equal((await laptop.request('DELETE', `/auth/sessions/${own}`)).statusCode, 204, 'ending the current session (a logout) needs none either')
})

test('POST /auth/reauth renews auth_time of the same session; the guarded routes then pass', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const laptop = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const phone = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const before = (await laptop.request('GET', '/auth/session')).json()
  clock.advance(600)
  t.equal((await laptop.request('DELETE', '/auth/sessions')).statusCode, 401)

  const wrong = await laptop.request('POST', '/auth/reauth', { password: 'not the password at all' })
  t.equal(wrong.statusCode, 403)
  t.equal(wrong.json().code, 'ERR_WRONG_PASSWORD')
  t.same(wrong.headers['set-cookie'], undefined, 'a wrong password sets no cookie')

  const reauth = await laptop.request('POST', '/auth/reauth', { password: TEST_PASSWORD })
  t.equal(reauth.statusCode, 200)
  t.equal(reauth.json().session.id, before.session.id, 'the same session')
  t.equal(reauth.json().session.absoluteExpiresAt, before.session.absoluteExpiresAt, 'the absolute lifetime still counts from the login')
  t.equal((await laptop.request('GET', '/auth/sessions')).json().sessions.length, 2, 'no new session')
  const info = app.sessions.authenticate(laptop.jar.get('__Host-session') as string)
  t.match(info, { authTime: clock.seconds, amr: ['pwd'] })

  clock.advance(200)
  await laptop.request('POST', '/auth/refresh')
  const refreshed = app.sessions.authenticate(laptop.jar.get('__Host-session') as string)
  t.match(refreshed, { authTime: clock.seconds - 200, amr: ['pwd'] }, 'a refresh keeps auth_time and amr')
  const ended = await laptop.request('DELETE', '/auth/sessions')
  t.equal(ended.statusCode, 200)
  t.same(ended.json(), { ended: 1 })
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 401)

  clock.advance(101)
  t.equal((await laptop.request('POST', '/auth/logout-all')).statusCode, 401, 'stale again after reauthMaxAgeSeconds')
})

test('POST /auth/reauth: no session 401; body checked; the refresh token of another session refused; limited like login', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '3' } })
  await addUser(app, 'alice')
  await addUser(app, 'bob')
  t.equal((await client(app).request('POST', '/auth/reauth', { password: TEST_PASSWORD })).json().code, 'ERR_SESSION_INVALID')
  const alice = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  for (const body of [{}, { password: '' }, { password: TEST_PASSWORD, code: '12345' }]) {
    const response = await alice.request('POST', '/auth/reauth', body)
    t.equal(response.statusCode, 400, JSON.stringify(body))
  }
  const bob = await loggedIn(t, app, 'bob', TEST_PASSWORD, clock)
  t.equal((await alice.request('POST', '/auth/reauth', { password: TEST_PASSWORD }, { cookie: `__Host-session=${alice.jar.get('__Host-session') as string}; __Secure-refresh=${bob.jar.get('__Secure-refresh') as string}` })).statusCode, 401, 'another session\'s refresh token')
  t.equal((await bob.request('GET', '/auth/session')).statusCode, 200, 'bob is untouched')
  t.equal((await alice.request('POST', '/auth/reauth', { password: 'wrong' }, { cookie: `__Host-session=${alice.jar.get('__Host-session') as string}` })).statusCode, 403)
  t.equal((await alice.request('POST', '/auth/reauth', { password: TEST_PASSWORD }, { cookie: `__Host-session=${alice.jar.get('__Host-session') as string}` })).statusCode, 401, 'no refresh cookie: 401')

  const fresh = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  for (let i = 0; i < 2; i++) t.equal((await fresh.request('POST', '/auth/reauth', { password: 'wrong guess' })).statusCode, 403)
  const limited = await fresh.request('POST', '/auth/reauth', { password: TEST_PASSWORD })
  t.equal(limited.statusCode, 429, 'wrong passwords at reauth count against the account like failed logins')
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 429, 'and the login form shares the count')
})

test('a password change with the current password counts as a re-authentication', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const laptop = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  clock.advance(3600)
  await laptop.request('POST', '/auth/refresh')
  t.equal((await laptop.request('POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: 'a brand new passphrase' })).statusCode, 200)
  t.equal((await laptop.request('DELETE', '/auth/sessions')).statusCode, 200, 'fresh after the change')
})

test('app.requireRecentAuth on an app\'s own route: max_age and amr challenges, typed on the instance and the namespace', async (t) => {
  const clock = new ManualClock()
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, {
    secret: TEST_SECRET,
    store: new MemorySessionStore(),
    clock: clock.now,
    cookieSecure: true,
    reauthMaxAgeSeconds: 120,
    verifyCredentials: async (username, password) => password === TEST_PASSWORD ? { id: 'u1', username, roles: [] } : null
  })
  app.register(async (scope) => {
    scope.get('/default', { preHandler: app.requireRecentAuth() }, async () => ({ ok: true }))
    scope.get('/strict', { preHandler: app.statelessSession.requireRecentAuth(10) }, async () => ({ ok: true }))
    scope.get('/mfa', { preHandler: app.requireRecentAuth(600, { amr: ['otp'] }) }, async () => ({ ok: true }))
  })
  await app.ready()
  t.throws(() => app.requireRecentAuth(-1), TypeError)
  const c = client(app, new CookieJar(clock.now))
  t.equal((await c.request('GET', '/default')).statusCode, 401, 'no session')
  t.equal((await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 200)
  t.equal((await c.request('GET', '/default')).statusCode, 200)
  clock.advance(11)
  const strict = await c.request('GET', '/strict')
  t.equal(strict.statusCode, 401)
  t.equal(strict.json().code, 'ERR_REAUTH_REQUIRED')
  t.match(strict.headers['www-authenticate'], /max_age=10$/)
  t.equal((await c.request('GET', '/default')).statusCode, 200)
  const mfa = await c.request('GET', '/mfa')
  t.equal(mfa.statusCode, 401)
  t.equal(mfa.json().code, 'ERR_STRONGER_AUTH_REQUIRED')
  t.equal(mfa.headers['www-authenticate'], 'Bearer error="insufficient_user_authentication", error_description="An authentication with a second factor is required", acr_values="mfa", max_age=600')
  clock.advance(110)
  t.equal((await c.request('GET', '/default')).json().code, 'ERR_REAUTH_REQUIRED', 'the plugin default (120 s) applies')
  t.equal((await c.request('POST', '/auth/reauth', { password: TEST_PASSWORD })).statusCode, 200, 'reauth works with an app\'s own verifyCredentials')
  t.equal((await c.request('GET', '/default')).statusCode, 200)
})
