/** Logout, logout everywhere, password change and disable: each takes effect at once. */
import { test } from 'tap'
import { addUser, buildTestApp, client, loggedIn, ManualClock, parseSetCookie, setCookieHeaders, TEST_PASSWORD } from '../../helper.js'

const ACCESS = '__Host-session'
const REFRESH = '__Secure-refresh'

test('logout revokes the access token and the whole family at once, and clears both cookies', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  const copy = c.jar.clone()
  const response = await c.request('POST', '/auth/logout')
  t.equal(response.statusCode, 204)
  t.equal(response.body, '')
  t.equal(response.headers['cache-control'], 'no-store')
  const cleared = setCookieHeaders(response).map(parseSetCookie)
  t.same(cleared.map((c) => [c.name, c.value, c.attributes['max-age'], c.attributes['path'], c.attributes['secure'], c.attributes['httponly'], c.attributes['samesite']]), [
    [ACCESS, '', '0', '/', true, true, 'Lax'],
    [REFRESH, '', '0', '/auth', true, true, 'Strict']
  ], 'cleared with the same name, path and attributes')
  const stale = client(app, copy)
  t.equal((await stale.request('GET', '/auth/session')).statusCode, 401, 'the old access cookie is refused at once')
  t.equal((await stale.request('POST', '/auth/refresh')).statusCode, 401, 'the old refresh cookie too')
})

test('logout with only a refresh cookie (access expired) still ends the family', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  const copy = c.jar.clone()
  clock.advance(1000)
  t.equal(c.jar.header('/auth/logout').includes(ACCESS), false, 'the access cookie expired in the jar')
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  t.equal((await client(app, copy).request('POST', '/auth/refresh')).statusCode, 401)
})

test('logout is idempotent: 204 without a session, with garbage, twice', async (t) => {
  const app = await buildTestApp(t)
  const anonymous = client(app)
  t.equal((await anonymous.request('POST', '/auth/logout')).statusCode, 204)
  t.equal((await anonymous.request('POST', '/auth/logout', undefined, { cookie: `${ACCESS}=garbage; ${REFRESH}=garbage` })).statusCode, 204)
  await addUser(app)
  const c = await loggedIn(t, app)
  const copy = c.jar.clone()
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  t.equal((await client(app, copy).request('POST', '/auth/logout')).statusCode, 204, 'again with the revoked cookies')
})

test('logout-all ends every session of the user, not other users\'', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  await addUser(app, 'bob')
  const laptop = await loggedIn(t, app, 'alice', undefined, clock)
  const phone = await loggedIn(t, app, 'alice', undefined, clock)
  const bob = await loggedIn(t, app, 'bob', undefined, clock)
  clock.advance(5)
  const response = await laptop.request('POST', '/auth/logout-all')
  t.equal(response.statusCode, 204)
  t.equal(laptop.jar.get(ACCESS), undefined, 'cookies cleared')
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 401, 'the other device is out at once')
  t.equal((await phone.request('POST', '/auth/refresh')).statusCode, 401)
  t.equal((await bob.request('GET', '/auth/session')).statusCode, 200, 'bob is untouched')
  const again = await loggedIn(t, app, 'alice', undefined, clock)
  t.equal((await again.request('GET', '/auth/session')).statusCode, 200, 'a new login in the same second works')
  t.equal((await client(app).request('POST', '/auth/logout-all')).statusCode, 401, 'needs a session')
})

test('changing the password or disabling the account ends all sessions at once', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { STORE: 'sqlite' } })
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  clock.advance(2)
  await app.users.setPasswordOf('alice', 'a brand new passphrase')
  // The CLI runs in another process: the service learns through the revocation log. Poll it now.
  await app.sessionRevocations.poll()
  t.equal((await c.request('GET', '/auth/session')).statusCode, 401)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 401)
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 401, 'old password refused')
  const fresh = await loggedIn(t, app, 'alice', 'a brand new passphrase', clock)
  clock.advance(2)
  await app.users.setDisabledOf('alice', true)
  await app.sessionRevocations.poll()
  t.equal((await fresh.request('GET', '/auth/session')).statusCode, 401)
  t.equal((await client(app).request('POST', '/auth/login', { username: 'alice', password: 'a brand new passphrase' })).statusCode, 401, 'disabled: no login')
  await app.users.setDisabledOf('alice', false)
  await loggedIn(t, app, 'alice', 'a brand new passphrase', clock)
})

test('the revocation poll picks up revocations written by another process on its own', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { STORE: 'sqlite' } })
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  clock.advance(2)
  // Disabling records the revocations in the store only, as the users CLI in another process does;
  // the service must learn them from its poll of the revocation log (every second by default).
  await app.users.setDisabledOf('alice', true)
  let status = 200
  for (let i = 0; i < 60 && status === 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    status = (await c.request('GET', '/auth/session')).statusCode
  }
  t.equal(status, 401, 'revoked within the poll interval')
})
