/**
 * The TOTP second factor over HTTP: enrolment, the two-step login, re-authentication with a code, removal and
 * resets; and what an attacker tries: replayed codes, reused recovery codes, a pending-login cookie replayed
 * or used for another user, brute force.
 */
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, ManualClock, parseSetCookie, setCookieHeaders, TEST_PASSWORD, type Client } from '../../helper.js'
import { appCode } from '../../helpers/totp.js'

interface Enrolled { app: FastifyInstance, clock: ManualClock, secret: string, recoveryCodes: string[], device: Client }

async function login (app: FastifyInstance, clock: ManualClock, username = 'alice', password = TEST_PASSWORD): Promise<Client> {
  const c = client(app, new CookieJar(clock.now))
  await c.request('POST', '/auth/login', { username, password })
  return c
}

/** alice, enrolled with the real routes; `device` is her signed-in browser. */
async function enrolled (t: Test, env: Record<string, string> = {}, username = 'alice', shared?: { app: FastifyInstance, clock: ManualClock }): Promise<Enrolled> {
  const clock = shared?.clock ?? new ManualClock()
  const app = shared?.app ?? await buildTestApp(t, { clock: clock.now, env })
  await addUser(app, username)
  const device = await login(app, clock, username)
  const begun = await device.request('POST', '/auth/mfa/totp')
  t.equal(begun.statusCode, 200, 'enrolment started')
  const { secret } = begun.json() as { secret: string }
  const confirmed = await device.request('POST', '/auth/mfa/totp/confirm', { code: appCode(secret, clock.ms) })
  t.equal(confirmed.statusCode, 200, 'enrolment confirmed')
  clock.advance(30)
  return { app, clock, secret, recoveryCodes: confirmed.json().recoveryCodes, device }
}

const SESSION_COOKIES = ['__Host-session', '__Secure-refresh']

test('enrolment: secret, URI and QR code under a recent authentication; confirmed by a code; ten recovery codes', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const device = await login(app, clock)
  t.same((await device.request('GET', '/auth/mfa')).json(), { totp: false, recoveryCodesLeft: 0 })
  t.equal((await device.request('POST', '/auth/mfa/totp/confirm', { code: '123456' })).json().code, 'ERR_NO_SECOND_FACTOR', 'nothing to confirm yet')
  const begun = await device.request('POST', '/auth/mfa/totp')
  t.equal(begun.statusCode, 200)
  const { secret, uri, qrSvg } = begun.json() as Record<string, string>
  t.match(uri, `otpauth://totp/stateless-session:alice?issuer=stateless-session&secret=${secret as string}&algorithm=SHA1&digits=6&period=30`)
  t.match(qrSvg, /^<svg /)
  t.equal(begun.headers['cache-control'], 'no-store')
  const wrong = await device.request('POST', '/auth/mfa/totp/confirm', { code: appCode(secret as string, clock.ms + 300_000) })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'ERR_INVALID_SECOND_FACTOR')
  const confirmed = await device.request('POST', '/auth/mfa/totp/confirm', { code: appCode(secret as string, clock.ms) })
  t.equal(confirmed.statusCode, 200)
  t.equal(confirmed.json().recoveryCodes.length, 10)
  t.same((await device.request('GET', '/auth/mfa')).json(), { totp: true, recoveryCodesLeft: 10 })
  t.equal((await device.request('POST', '/auth/mfa/totp')).json().code, 'ERR_SECOND_FACTOR_EXISTS')
  t.equal((await device.request('GET', '/auth/session')).statusCode, 200, 'the enrolling session lives on')

  clock.advance(301)
  await device.request('POST', '/auth/refresh')
  for (const [method, url] of [['POST', '/auth/mfa/totp'], ['DELETE', '/auth/mfa/totp'], ['POST', '/auth/mfa/recovery-codes']] as const) {
    const stale = await device.request(method, url)
    t.equal(stale.json().code, 'ERR_REAUTH_REQUIRED', `${method} ${url} needs a recent authentication`)
    t.match(stale.headers['www-authenticate'], /insufficient_user_authentication/)
  }
  t.equal((await client(app).request('GET', '/auth/mfa')).statusCode, 401)
})

test('two-step login: the password alone sets no session; the code does; the pending cookie is HttpOnly, short and single-use', async (t) => {
  const { app, clock, secret } = await enrolled(t)
  const browser = client(app, new CookieJar(clock.now))
  const first = await browser.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  t.equal(first.statusCode, 200)
  t.same(first.json(), { secondFactorRequired: true })
  const set = setCookieHeaders(first).map(parseSetCookie)
  t.same(set.map((c) => c.name), ['__Secure-pending-login'], 'no session cookie before both steps')
  t.match(set[0]?.attributes, { path: '/auth/login', 'max-age': '300', httponly: true, secure: true, samesite: 'Strict' })
  t.match(set[0]?.value, /^[A-Za-z0-9_-]{43}$/)
  t.equal((await browser.request('GET', '/auth/session')).statusCode, 401, 'not signed in')
  const pendingCookie = browser.jar.get('__Secure-pending-login') as string

  const second = await browser.request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) })
  t.equal(second.statusCode, 200)
  t.match(second.json(), { user: { username: 'alice' }, session: { id: String } })
  t.ok(SESSION_COOKIES.every((name) => browser.jar.get(name) !== undefined), 'both session cookies set')
  t.equal(browser.jar.get('__Secure-pending-login'), undefined, 'the pending cookie is cleared')
  t.match(app.sessions.authenticate(browser.jar.get('__Host-session') as string), { amr: ['pwd', 'otp'], authTime: clock.seconds })

  clock.advance(30)
  const replay = await client(app).request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) }, { cookie: `__Secure-pending-login=${pendingCookie}` })
  t.equal(replay.statusCode, 401, 'the pending cookie replayed after its use')
  t.equal(replay.json().code, 'ERR_PENDING_LOGIN_INVALID')
  t.same(setCookieHeaders(replay).map(parseSetCookie).filter((c) => SESSION_COOKIES.includes(c.name)), [])

  t.equal((await client(app).request('POST', '/auth/login/second-factor', { code: '123456' })).json().code, 'ERR_PENDING_LOGIN_INVALID', 'no cookie at all')
  t.equal((await client(app).request('POST', '/auth/login/second-factor', { code: '123456' }, { cookie: '__Secure-pending-login=forged' })).json().code, 'ERR_PENDING_LOGIN_INVALID', 'a forged cookie')
  for (const body of [{}, { code: '123456', recoveryCode: 'x' }, { code: 'abcdef' }]) {
    t.equal((await browser.request('POST', '/auth/login/second-factor', body)).statusCode, 400, JSON.stringify(body))
  }

  const slow = await login(app, clock)
  clock.advance(301)
  t.equal((await slow.request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) })).json().code, 'ERR_PENDING_LOGIN_INVALID', 'the pending login expires')
})

test('the password step tells no more than before: wrong password, unknown user and disabled account answer as without a factor', async (t) => {
  const { app, clock } = await enrolled(t)
  await addUser(app, 'bob')
  const answers = []
  for (const [username, password] of [['alice', 'wrong password!'], ['bob', 'wrong password!'], ['nobody', 'wrong password!']]) {
    const response = await client(app, new CookieJar(clock.now)).request('POST', '/auth/login', { username, password })
    answers.push([response.statusCode, response.body, setCookieHeaders(response).length])
  }
  t.same(answers[0], answers[1], 'enrolled and not enrolled: same wrong-password answer')
  t.same(answers[0], answers[2], 'and the same as an unknown user')
  t.equal(answers[0]?.[2], 0, 'no cookie')
})

test('adversarial: a replayed code, a reused recovery code, another user\'s pending cookie', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  const alice = await enrolled(t, {}, 'alice', { app, clock })
  const bob = await enrolled(t, {}, 'bob', { app, clock })

  const code = appCode(alice.secret, clock.ms)
  const one = await login(app, clock)
  t.equal((await one.request('POST', '/auth/login/second-factor', { code })).statusCode, 200)
  const two = await login(app, clock)
  const replayed = await two.request('POST', '/auth/login/second-factor', { code })
  t.equal(replayed.statusCode, 401, 'the same code in its window, on a new login')
  t.equal(replayed.json().code, 'ERR_INVALID_SECOND_FACTOR')
  t.ok(SESSION_COOKIES.every((name) => two.jar.get(name) === undefined))
  t.equal((await alice.device.request('POST', '/auth/reauth', { password: TEST_PASSWORD, code })).statusCode, 403, 'nor at re-authentication')

  const recovery = alice.recoveryCodes[0] as string
  const r1 = await login(app, clock)
  t.equal((await r1.request('POST', '/auth/login/second-factor', { recoveryCode: recovery })).statusCode, 200, 'a recovery code logs in')
  const r2 = await login(app, clock)
  t.equal((await r2.request('POST', '/auth/login/second-factor', { recoveryCode: recovery })).json().code, 'ERR_INVALID_SECOND_FACTOR', 'once')
  t.equal((await r2.request('POST', '/auth/login/second-factor', { recoveryCode: bob.recoveryCodes[0] as string })).json().code, 'ERR_INVALID_SECOND_FACTOR', 'bob\'s recovery code on alice\'s login')

  clock.advance(30)
  const alicesPending = await login(app, clock)
  const asBob = await alicesPending.request('POST', '/auth/login/second-factor', { code: appCode(bob.secret, clock.ms) })
  t.equal(asBob.statusCode, 401, 'alice\'s pending cookie with bob\'s code')
  const stillAlice = await alicesPending.request('POST', '/auth/login/second-factor', { code: appCode(alice.secret, clock.ms) })
  t.equal(stillAlice.statusCode, 200)
  t.equal(stillAlice.json().user.username, 'alice', 'the pending cookie names its user; the request cannot')

  t.same((await alice.device.request('GET', '/auth/mfa')).json(), { totp: true, recoveryCodesLeft: 9 })
  const renewed = await alice.device.request('POST', '/auth/mfa/recovery-codes')
  t.equal(renewed.statusCode, 200)
  const r3 = await login(app, clock)
  t.equal((await r3.request('POST', '/auth/login/second-factor', { recoveryCode: alice.recoveryCodes[1] as string })).statusCode, 401, 'old codes are void once renewed')
  // Five wrong codes on alice's account by now: the second-factor limit holds her until its window ends.
  t.equal((await r3.request('POST', '/auth/login/second-factor', { recoveryCode: renewed.json().recoveryCodes[0] })).statusCode, 429, 'the account is limited after five wrong codes')
  clock.advance(901)
  const r4 = await login(app, clock)
  t.equal((await r4.request('POST', '/auth/login/second-factor', { recoveryCode: renewed.json().recoveryCodes[0] })).statusCode, 200, 'a renewed code works')
})

test('brute force: wrong codes are limited per account (from any client) and per IP, with Retry-After; the right code then waits too', async (t) => {
  const { app, clock, secret } = await enrolled(t, { RATE_LIMIT_SECOND_FACTOR_ACCOUNT_MAX: '3', RATE_LIMIT_SECOND_FACTOR_WINDOW_SECONDS: '600' })
  const attacker = await login(app, clock)
  for (let i = 0; i < 3; i++) t.equal((await attacker.request('POST', '/auth/login/second-factor', { code: String(100000 + i) })).statusCode, 401)
  const blocked = await attacker.request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) })
  t.equal(blocked.statusCode, 429)
  t.equal(blocked.json().code, 'ERR_RATE_LIMITED')
  t.ok(Number(blocked.headers['retry-after']) > 0 && Number(blocked.headers['retry-after']) <= 600)
  const elsewhere = await login(app, clock)
  t.equal((await elsewhere.request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) }, { 'x-forwarded-for': '203.0.113.9' })).statusCode, 429, 'the account is locked for every client')
  clock.advance(601)
  const later = await login(app, clock)
  t.equal((await later.request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) })).statusCode, 200, 'the lockout ends on its own')
})

test('re-authentication of a user with a factor needs the code; the session then carries otp', async (t) => {
  const { app, clock, secret, device } = await enrolled(t)
  const noCode = await device.request('POST', '/auth/reauth', { password: TEST_PASSWORD })
  t.equal(noCode.statusCode, 401)
  t.equal(noCode.json().code, 'ERR_SECOND_FACTOR_REQUIRED')
  t.equal((await device.request('GET', '/auth/session')).statusCode, 200, 'the session lives on')
  t.equal((await device.request('POST', '/auth/reauth', { password: TEST_PASSWORD, code: '000000' })).json().code, 'ERR_WRONG_PASSWORD')
  const ok = await device.request('POST', '/auth/reauth', { password: TEST_PASSWORD, code: appCode(secret, clock.ms) })
  t.equal(ok.statusCode, 200)
  t.match(app.sessions.authenticate(device.jar.get('__Host-session') as string), { amr: ['pwd', 'otp'], authTime: clock.seconds })
})

test('a password change of a user with a factor needs the code too: a stolen session plus the password cannot take the account over', async (t) => {
  // The attack a reviewer found: the session is past the re-authentication window, the attacker knows the
  // password but not the factor. Before the fix, POST /auth/password alone gave a fresh session (auth_time
  // now) that passed the guarded routes, so the factor could be removed and recovery codes renewed.
  const { app, clock, secret, device } = await enrolled(t)
  clock.advance(301)
  await device.request('POST', '/auth/refresh')
  t.equal((await device.request('DELETE', '/auth/mfa/totp')).json().code, 'ERR_REAUTH_REQUIRED', 'the stolen session is past the window')
  const change = { currentPassword: TEST_PASSWORD, newPassword: 'a brand new passphrase' }

  const noCode = await device.request('POST', '/auth/password', change)
  t.equal(noCode.statusCode, 401)
  t.equal(noCode.json().code, 'ERR_SECOND_FACTOR_REQUIRED')
  t.same(noCode.headers['set-cookie'], undefined, 'no new session')
  const wrongCode = await device.request('POST', '/auth/password', { ...change, code: '000000' })
  t.equal(wrongCode.statusCode, 403)
  t.equal(wrongCode.json().code, 'ERR_WRONG_PASSWORD', 'a wrong code answers as a wrong password, counted as a failed login')
  const wrongPassword = await device.request('POST', '/auth/password', { ...change, currentPassword: 'not the password at all', code: appCode(secret, clock.ms) })
  t.equal(wrongPassword.json().code, 'ERR_WRONG_PASSWORD', 'the code is not even looked at without the password')
  t.equal((await device.request('DELETE', '/auth/mfa/totp')).json().code, 'ERR_REAUTH_REQUIRED', 'still refused: nothing was renewed')
  t.equal((await login(app, clock)).jar.get('__Host-session'), undefined, 'the old password still needs the factor to log in')

  const weak = await device.request('POST', '/auth/password', { ...change, newPassword: 'password', code: appCode(secret, clock.ms) })
  t.equal(weak.json().code, 'ERR_PASSWORD_POLICY', 'the new password is checked first')
  const same = await device.request('POST', '/auth/password', { ...change, newPassword: TEST_PASSWORD, code: appCode(secret, clock.ms) })
  t.equal(same.json().code, 'ERR_PASSWORD_UNCHANGED', 'and so is a new password equal to the current one')
  const changed = await device.request('POST', '/auth/password', { ...change, code: appCode(secret, clock.ms) })
  t.equal(changed.statusCode, 200, 'the same code still works: the refused new password did not use it up')
  t.match(app.sessions.authenticate(device.jar.get('__Host-session') as string), { amr: ['pwd', 'otp'], authTime: clock.seconds })
  const relogin = await login(app, clock, 'alice', change.newPassword)
  t.equal((await relogin.request('GET', '/auth/session')).statusCode, 401, 'the factor stays: the new password alone logs no one in')
})

test('removal by the user (recent authentication) and reset by an admin end the user\'s other sessions; then the password alone logs in', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  const { secret, device } = await enrolled(t, {}, 'alice', { app, clock })
  const phone = await login(app, clock)
  t.equal((await phone.request('POST', '/auth/login/second-factor', { code: appCode(secret, clock.ms) })).statusCode, 200)
  const removed = await device.request('DELETE', '/auth/mfa/totp')
  t.equal(removed.statusCode, 204)
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 401, 'the other session ended')
  t.equal((await device.request('GET', '/auth/session')).statusCode, 200, 'this one lives on')
  t.equal((await device.request('DELETE', '/auth/mfa/totp')).json().code, 'ERR_NO_SECOND_FACTOR')
  const plain = await login(app, clock)
  t.equal((await plain.request('GET', '/auth/session')).statusCode, 200, 'the password alone logs in again')

  await addUser(app, 'root', TEST_PASSWORD, ['admin'])
  const admin = await login(app, clock, 'root')
  const bob = await enrolled(t, {}, 'bob', { app, clock })
  const bobId = (await bob.device.request('GET', '/auth/session')).json().user.id as string
  t.equal((await bob.device.request('DELETE', `/auth/admin/users/${bobId}/mfa`)).statusCode, 403, 'not for non-admins')
  const reset = await admin.request('DELETE', `/auth/admin/users/${bobId}/mfa`)
  t.equal(reset.statusCode, 204)
  t.equal((await bob.device.request('GET', '/auth/session')).statusCode, 401, 'every session of bob ended')
  t.equal((await login(app, clock, 'bob')).jar.get('__Host-session') !== undefined, true, 'bob logs in with his password alone')
  t.equal((await admin.request('DELETE', '/auth/admin/users/nobody/mfa')).statusCode, 404)
})
