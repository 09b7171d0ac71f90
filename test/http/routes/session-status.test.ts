/** GET /auth/session/status: always 200, `authenticated` from the access cookie, `refreshable` from the refresh cookie's presence. */
import { test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, loggedIn, ManualClock } from '../../helper.js'

const status = { method: 'GET', url: '/auth/session/status' } as const

test('anonymous, logged in, access expired, logged out: each answers 200 with what the cookies say', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app)
  const anonymous = await client(app, new CookieJar(clock.now)).request('GET', '/auth/session/status')
  t.equal(anonymous.statusCode, 200)
  t.same(anonymous.json(), { authenticated: false, refreshable: false })
  t.equal(anonymous.headers['cache-control'], 'no-store')
  t.equal(anonymous.headers['set-cookie'], undefined, 'no cookie set or cleared')

  const c = await loggedIn(t, app, 'alice', undefined, clock)
  t.same((await c.request('GET', '/auth/session/status')).json(), { authenticated: true, refreshable: true })
  clock.advance(901)
  t.same((await c.request('GET', '/auth/session/status')).json(), { authenticated: false, refreshable: true }, 'the access cookie has expired; the refresh cookie is still there')
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  t.same((await c.request('GET', '/auth/session/status')).json(), { authenticated: true, refreshable: true })
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  t.same((await c.request('GET', '/auth/session/status')).json(), { authenticated: false, refreshable: false })
})

test('the cookies are only looked at: a forged access cookie is no session, a forged refresh cookie is only "present"', async (t) => {
  const app = await buildTestApp(t)
  const forged = await app.inject({ ...status, headers: { cookie: '__Host-session=not-a-token; __Secure-refresh=not-a-token-either' } })
  t.equal(forged.statusCode, 200)
  t.same(forged.json(), { authenticated: false, refreshable: true })
  t.equal(forged.headers['set-cookie'], undefined, 'nothing cleared: only a refresh says whether the refresh cookie is good')
  const other = await app.inject({ ...status, headers: { cookie: 'refresh=x; session=y' } })
  t.same(other.json(), { authenticated: false, refreshable: false }, 'cookies of other names do not count')
})

test('a body or a query changes nothing; other methods are not routes', async (t) => {
  const app = await buildTestApp(t)
  t.same((await app.inject({ ...status, url: '/auth/session/status?refreshable=true' })).json(), { authenticated: false, refreshable: false })
  t.equal((await app.inject({ method: 'POST', url: '/auth/session/status' })).statusCode, 404)
})
