/**
 * Self-service: POST /auth/password, DELETE /auth/sessions (every other session), the client address and
 * last-seen time in GET /auth/sessions, and POST /auth/signup (SIGNUP=open only).
 */
import { test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, loggedIn, ManualClock, TEST_PASSWORD } from '../../helper.js'
import { captureLogs } from '../../helpers/log-capture.js'

const NEW_PASSWORD = 'a brand new passphrase'

test('changing the password logs every other device out at once and re-issues this one', async (t) => {
  const clock = new ManualClock()
  const logs = captureLogs()
  const app = await buildTestApp(t, { clock: clock.now, logger: logs.logger, env: { LOG_LEVEL: 'info' } })
  const aliceId = await addUser(app, 'alice')
  const laptop = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const phone = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const tablet = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const before = (await laptop.request('GET', '/auth/session')).json().session.id
  const phoneRefresh = phone.jar.clone()

  const changed = await laptop.request('POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD })
  t.equal(changed.statusCode, 200)
  t.match(changed.json(), { user: { id: aliceId, username: 'alice' }, session: { id: String } })
  t.not(changed.json().session.id, before, 'this device got a new session')
  t.equal(changed.headers['cache-control'], 'no-store')
  t.equal((await laptop.request('GET', '/auth/session')).statusCode, 200, 'and keeps working with the new cookies')
  t.equal((await laptop.request('POST', '/auth/refresh')).statusCode, 200)
  for (const [name, other] of [['phone', phone], ['tablet', tablet]] as const) {
    t.equal((await other.request('GET', '/auth/session')).statusCode, 401, `the ${name} is logged out at once`)
  }
  t.equal((await client(app, phoneRefresh).request('POST', '/auth/refresh')).statusCode, 401, 'its refresh token is dead too')
  t.equal((await laptop.request('GET', '/auth/sessions')).json().sessions.length, 1, 'one session left')
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 401, 'the old password is refused')
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: NEW_PASSWORD })).statusCode, 200, 'the new one works')
  t.match(logs.audits('password.changed'), [{ userId: aliceId }])
  t.notMatch(JSON.stringify(logs.lines), NEW_PASSWORD, 'no password in any log line')
  t.notMatch(JSON.stringify(logs.lines), TEST_PASSWORD)
})

test('POST /auth/password refuses, changing nothing: a table of bad inputs', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const c = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const json = { 'content-type': 'application/json' }
  const table: Array<[string, { body?: unknown, raw?: string, headers?: Record<string, string>, anonymous?: boolean }, number, string]> = [
    ['no session', { body: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }, anonymous: true }, 401, 'ERR_SESSION_INVALID'],
    ['wrong current password', { body: { currentPassword: 'not the password', newPassword: NEW_PASSWORD } }, 403, 'ERR_WRONG_PASSWORD'],
    ['too short', { body: { currentPassword: TEST_PASSWORD, newPassword: 'short' } }, 400, 'ERR_PASSWORD_POLICY'],
    ['a common password', { body: { currentPassword: TEST_PASSWORD, newPassword: 'password1' } }, 400, 'ERR_PASSWORD_POLICY'],
    ['containing the username', { body: { currentPassword: TEST_PASSWORD, newPassword: 'alice in wonderland' } }, 400, 'ERR_PASSWORD_POLICY'],
    ['over 1024 characters', { body: { currentPassword: TEST_PASSWORD, newPassword: 'x'.repeat(1025) } }, 400, 'ERR_VALIDATION'],
    ['empty new password', { body: { currentPassword: TEST_PASSWORD, newPassword: '' } }, 400, 'ERR_VALIDATION'],
    ['missing field', { body: { currentPassword: TEST_PASSWORD } }, 400, 'ERR_VALIDATION'],
    ['an object', { body: { currentPassword: TEST_PASSWORD, newPassword: { a: 1 } } }, 400, 'ERR_VALIDATION'],
    ['no body', { raw: '', headers: json }, 400, 'ERR_VALIDATION'],
    ['broken JSON', { raw: '{"currentPassword":', headers: json }, 400, 'ERR_MALFORMED_JSON'],
    ['text/plain', { raw: JSON.stringify({ currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }), headers: { 'content-type': 'text/plain' } }, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a form', { raw: 'currentPassword=x&newPassword=y', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['cross-site', { body: { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }, headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } }, 403, 'ERR_CSRF_REJECTED'],
    ['over the body limit', { raw: JSON.stringify({ currentPassword: TEST_PASSWORD, newPassword: 'x'.repeat(9000) }), headers: json }, 413, 'ERR_BODY_TOO_LARGE']
  ]
  for (const [label, input, status, code] of table) {
    const jar = input.anonymous === true ? new CookieJar(clock.now) : c.jar.clone()
    const response = await app.inject({
      method: 'POST',
      url: '/auth/password',
      headers: { ...(jar.header('/auth/password') === '' ? {} : { cookie: jar.header('/auth/password') }), ...(input.body === undefined ? {} : json), ...input.headers },
      payload: input.raw ?? JSON.stringify(input.body)
    })
    t.equal(response.statusCode, status, `${label}: status`)
    t.equal(response.json().code, code, `${label}: code`)
    t.equal(response.headers['set-cookie'], undefined, `${label}: no cookie set or cleared`)
  }
  t.equal((await c.request('GET', '/auth/session')).statusCode, 200, 'the session lives on')
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 200, 'the password is unchanged')
})

test('a new password equal to the current one is refused with ERR_PASSWORD_UNCHANGED, once the current one is verified, with one password check', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const laptop = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  const phone = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  // Every argon2 verification of the route goes through one of these two.
  const calls: string[] = []
  const { verifyCredentials, changePassword } = app.users
  app.users.verifyCredentials = async (...args) => { calls.push('verifyCredentials'); return await verifyCredentials.apply(app.users, args) }
  app.users.changePassword = async (...args) => { calls.push('changePassword'); return await changePassword.apply(app.users, args) }

  const same = await laptop.request('POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: TEST_PASSWORD })
  t.equal(same.statusCode, 400)
  t.same(same.json(), { statusCode: 400, code: 'ERR_PASSWORD_UNCHANGED', error: 'Bad Request', message: 'The new password is the current one: choose another' })
  t.equal(same.headers['set-cookie'], undefined, 'no cookie set or cleared')
  t.same(calls, ['verifyCredentials'], 'one verification of the current password, and no change attempted')
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 200, 'the other device is still logged in: nothing happened')
  t.equal((await laptop.request('GET', '/auth/session')).statusCode, 200, 'and so is this one')

  calls.length = 0
  const wrong = await laptop.request('POST', '/auth/password', { currentPassword: 'not the password', newPassword: 'not the password' })
  t.equal(wrong.json().code, 'ERR_WRONG_PASSWORD', 'equal but wrong: the wrong password answer, not a hint that it is the current one')
  t.same(calls, ['verifyCredentials'])

  calls.length = 0
  t.equal((await laptop.request('POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD })).statusCode, 200, 'another password is a change')
  t.same(calls, ['changePassword'], 'verified by the change itself, as before')
})

test('wrong current passwords count as failed logins of the account: a stolen session gives no extra guesses', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '3' } })
  await addUser(app, 'alice')
  const c = await loggedIn(t, app, 'alice', TEST_PASSWORD, clock)
  for (let i = 0; i < 3; i++) {
    t.equal((await c.request('POST', '/auth/password', { currentPassword: `guess ${i}`, newPassword: NEW_PASSWORD })).statusCode, 403)
  }
  const limited = await c.request('POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD })
  t.equal(limited.statusCode, 429, 'blocked, even with the right password')
  t.equal(limited.json().code, 'ERR_RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 429, 'the login form shares the count')
  clock.advance(901)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  t.equal((await c.request('POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD })).statusCode, 200, 'after the window')
})

test('DELETE /auth/sessions ends every other session in one call; the session list shows address and last-seen time', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { TRUST_PROXY: '127.0.0.1' } })
  await addUser(app, 'alice')
  await addUser(app, 'bob')
  const laptop = client(app, new CookieJar(clock.now))
  await laptop.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { 'x-forwarded-for': '203.0.113.7' })
  const phone = client(app, new CookieJar(clock.now))
  await phone.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { 'x-forwarded-for': '198.51.100.2', 'user-agent': 'Phone/1.0' })
  const bob = await loggedIn(t, app, 'bob', TEST_PASSWORD, clock)
  clock.advance(120)
  await phone.request('POST', '/auth/refresh', undefined, { 'x-forwarded-for': '198.51.100.99' })

  const sessions = (await laptop.request('GET', '/auth/sessions')).json().sessions as Array<Record<string, unknown>>
  const login = new Date(Date.UTC(2026, 10, 26, 12, 0, 0)).toISOString()
  const seen = new Date(Date.UTC(2026, 10, 26, 12, 2, 0)).toISOString()
  t.match(sessions, [
    { current: true, clientAddress: '203.0.113.7', createdAt: login, lastSeenAt: login, lastRefreshedAt: login },
    { current: false, clientAddress: '198.51.100.99', userAgent: 'Phone/1.0', createdAt: login, lastSeenAt: seen }
  ], 'address after TRUST_PROXY, updated at refresh; last seen = last refresh')

  const refused = await laptop.request('DELETE', '/auth/sessions', { extra: 1 })
  t.equal(refused.statusCode, 400, 'takes no body')
  t.equal((await client(app).request('DELETE', '/auth/sessions')).statusCode, 401, 'needs a session')
  t.equal((await laptop.request('DELETE', '/auth/sessions', undefined, { 'sec-fetch-site': 'cross-site' })).json().code, 'ERR_CSRF_REJECTED')
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 200, 'nothing ended by the refusals')

  const ended = await laptop.request('DELETE', '/auth/sessions')
  t.equal(ended.statusCode, 200)
  t.same(ended.json(), { ended: 1 })
  t.equal(ended.headers['set-cookie'], undefined, 'the current session keeps its cookies')
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 401, 'the phone is out at once')
  t.equal((await laptop.request('GET', '/auth/session')).statusCode, 200, 'this one lives on')
  t.equal((await bob.request('GET', '/auth/session')).statusCode, 200, 'another user is untouched')
  t.same((await laptop.request('DELETE', '/auth/sessions')).json(), { ended: 0 })
})

test('sign-up: off by default; with SIGNUP=open, the policy, a per-IP limit and the documented enumeration answer', async (t) => {
  const closed = await buildTestApp(t)
  const off = await client(closed).request('POST', '/auth/signup', { username: 'newbie', password: NEW_PASSWORD })
  t.equal(off.statusCode, 404, 'no route while closed')
  t.equal(off.json().code, 'ERR_ROUTE_NOT_FOUND')

  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { SIGNUP: 'open', RATE_LIMIT_SIGNUP_IP_MAX: '8' } })
  await addUser(app, 'alice')
  const c = client(app, new CookieJar(clock.now))
  const created = await c.request('POST', '/auth/signup', { username: 'newbie', password: NEW_PASSWORD })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { user: { username: 'newbie', roles: [] }, session: { id: String } })
  t.equal((await c.request('GET', '/auth/session')).statusCode, 200, 'signed up and logged in')

  const table: Array<[string, unknown, number, string]> = [
    ['a taken name (any case): tells that it exists', { username: 'ALICE', password: NEW_PASSWORD }, 409, 'ERR_USER_EXISTS'],
    ['a common password', { username: 'other', password: 'iloveyou' }, 400, 'ERR_PASSWORD_POLICY'],
    ['a bad username', { username: 'no spaces', password: NEW_PASSWORD }, 400, 'ERR_INVALID_USER_INPUT'],
    ['missing password', { username: 'other' }, 400, 'ERR_VALIDATION'],
    ['an array', [], 400, 'ERR_VALIDATION']
  ]
  for (const [label, body, status, code] of table) {
    const response = await client(app).request('POST', '/auth/signup', body)
    t.equal(response.statusCode, status, label)
    t.equal(response.json().code, code, label)
  }
  // Unknown members are refused (400) or dropped, depending on the validator's settings; never obeyed.
  const sneaky = await client(app).request('POST', '/auth/signup', { username: 'sneaky', password: NEW_PASSWORD, roles: ['admin'] })
  t.ok([201, 400].includes(sneaky.statusCode), 'roles cannot be chosen')
  t.same((await app.users.list()).find((u) => u.username === 'sneaky')?.roles ?? [], [], 'nobody signs up as an admin')
  t.equal((await client(app).request('POST', '/auth/signup', { username: 'x', password: NEW_PASSWORD }, { 'sec-fetch-site': 'cross-site' })).statusCode, 403, 'cross-site')
  t.equal((await client(app).request('POST', '/auth/signup', { username: 'other', password: NEW_PASSWORD })).statusCode, 201, 'the eighth attempt')
  const limited = await client(app).request('POST', '/auth/signup', { username: 'third', password: NEW_PASSWORD })
  t.equal(limited.statusCode, 429, 'every attempt counts, per IP')
  t.equal(limited.json().code, 'ERR_RATE_LIMITED')
  t.same((await app.users.list()).map((u) => u.username).filter((u) => u !== 'sneaky'), ['alice', 'newbie', 'other'], 'nothing else was created')
})
