/**
 * Logging (docs/security.md rule 23): the logs of a whole run, at trace level, through the service's own logger
 * options, hold every audit event with user and family ids, and no token, cookie value, password or secret.
 */
import { test } from 'tap'
import { addUser, client, CookieJar, TEST_PASSWORD, TEST_SECRET } from '../helper.js'
import { ACCESS, REFRESH, securityApp } from './kit.js'

const WRONG_PASSWORD = 'Tr0ub4dor&3-wrong'
const BOB_PASSWORD = 'bob-has-a-long-password-too'

test('a full run logs every audit event with ids and never a secret', async (t) => {
  const { app, alice, aliceId, clock, logs } = await securityApp(t, {
    env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '2', RATE_LIMIT_REFRESH_IP_MAX: '4', TRUST_PROXY: '10.0.0.1' }
  })
  const secrets = new Set<string>([TEST_PASSWORD, WRONG_PASSWORD, BOB_PASSWORD, TEST_SECRET])
  const remember = (...values: Array<string | undefined>): void => {
    for (const value of values) if (value !== undefined && value !== '') secrets.add(value)
  }
  const keep = (): void => { remember(alice.jar.get(ACCESS), alice.jar.get(REFRESH)) }
  keep()
  const first = (await alice.request('GET', '/auth/session')).json().session.id as string

  // A second device, ended from the first one.
  const bobId = await addUser(app, 'bob', BOB_PASSWORD)
  const phone = client(app, new CookieJar(clock.now))
  await phone.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  remember(phone.jar.get(ACCESS), phone.jar.get(REFRESH))
  const second = (await phone.request('GET', '/auth/session')).json().session.id as string
  t.equal((await alice.request('DELETE', `/auth/sessions/${second}`)).statusCode, 204)

  // Refresh, then reuse of the old refresh token after the grace window.
  const oldRefresh = alice.jar.get(REFRESH) as string
  clock.advance(30)
  t.equal((await alice.request('POST', '/auth/refresh')).statusCode, 200)
  keep()
  clock.advance(30)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: `${REFRESH}=${oldRefresh}` } })).statusCode, 401)

  // A new session; misbehaving clients put tokens where they do not belong.
  const c = client(app, new CookieJar(clock.now))
  t.equal((await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { 'user-agent': 'log-scan' })).statusCode, 200)
  remember(c.jar.get(ACCESS), c.jar.get(REFRESH))
  const token = c.jar.get(ACCESS) as string
  await app.inject({ method: 'GET', url: `/auth/session?token=${token}` })
  await app.inject({ method: 'GET', url: '/auth/session', headers: { authorization: `Bearer ${token}` } })
  await app.inject({ method: 'GET', url: `/auth/nothing/${encodeURIComponent(token).slice(0, 10)}?access_token=${token}` })
  await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: `{"username":"alice","password":"${WRONG_PASSWORD}"` })
  await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: WRONG_PASSWORD })
  await app.inject({ method: 'GET', url: '/auth/session', headers: { cookie: `${ACCESS}=${token}x` } })

  // A cross-site request with a session, failed logins up to the limit, refreshes up to theirs.
  t.equal((await c.request('POST', '/auth/logout', undefined, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })).statusCode, 403)
  for (let i = 0; i < 3; i++) await client(app).request('POST', '/auth/login', { username: 'bob', password: WRONG_PASSWORD }, { 'x-forwarded-for': '198.51.100.4' })
  for (let i = 0; i < 5; i++) {
    clock.advance(1)
    await c.request('POST', '/auth/refresh')
    remember(c.jar.get(ACCESS), c.jar.get(REFRESH))
  }
  t.equal((await client(app).request('POST', '/auth/login', { username: 'nobody', password: WRONG_PASSWORD })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', remoteAddress: '198.51.100.9' })).statusCode, 401)

  // Logout, then logout everywhere.
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  const last = client(app, new CookieJar(clock.now))
  await last.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  remember(last.jar.get(ACCESS), last.jar.get(REFRESH))
  const lastSession = (await last.request('GET', '/auth/session')).json().session.id as string
  t.equal((await last.request('POST', '/auth/logout-all')).statusCode, 204)

  const text = logs.lines.join('')
  t.ok(logs.lines.length > 50, `${logs.lines.length} log lines captured`)
  for (const secret of secrets) {
    t.notOk(text.includes(secret), `not logged: ${secret.slice(0, 12)}… (${secret.length} characters)`)
    // A token's ciphertext and tag are unique to it: no piece of one either.
    for (const piece of secret.split('.').slice(3)) if (piece.length > 16) t.notOk(text.includes(piece), 'not even a segment of it')
  }
  t.notOk(text.includes(BOB_PASSWORD.slice(0, 12)), 'no password prefix')

  const expected: Array<[string, Record<string, unknown>]> = [
    ['login.succeeded', { userId: aliceId, familyId: first }],
    ['login.failed', { username: 'bob' }],
    ['login.failed', { username: 'nobody' }],
    ['session.ended', { userId: aliceId, familyId: second, current: false }],
    ['refresh.succeeded', { userId: aliceId, familyId: first, generation: 1, replayed: false }],
    ['refresh.reuse_detected', { userId: aliceId, familyId: first }],
    ['refresh.failed', { reason: 'missing' }],
    ['csrf.rejected', { userId: aliceId, reason: 'cross-site', method: 'POST', route: '/auth/logout' }],
    ['login.rate_limited', { username: 'bob', scope: 'account', ip: '127.0.0.1' }],
    ['refresh.rate_limited', { scope: 'ip', ip: '127.0.0.1' }],
    ['logout', { userId: aliceId }],
    ['logout_all', { userId: aliceId, familyId: lastSession, sessionsEnded: 1 }]
  ]
  for (const [event, fields] of expected) {
    t.ok(logs.audits(event).some((line) => Object.entries(fields).every(([key, value]) => line[key] === value)), `${event} ${JSON.stringify(fields)}`)
  }
  for (const line of logs.records.filter((r) => typeof r['audit'] === 'string')) {
    t.equal(line['msg'], line['audit'], `${String(line['audit'])}: the event is the message`)
    t.type(line['reqId'], 'string', `${String(line['audit'])}: tied to its request`)
  }
  t.equal(logs.audits('login.failed').length >= 2, true)
  t.not(bobId, aliceId)
})
