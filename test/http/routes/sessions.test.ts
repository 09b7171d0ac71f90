/** GET /auth/session, GET /auth/sessions and DELETE /auth/sessions/:id. */
import { test } from 'tap'
import { addUser, buildTestApp, client, loggedIn, ManualClock } from '../../helper.js'

test('GET /auth/session answers the session for a valid access cookie, else the standard 401', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice', undefined, ['admin'])
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  const response = await c.request('GET', '/auth/session')
  t.equal(response.statusCode, 200)
  t.match(response.json(), { user: { username: 'alice', roles: ['admin'] }, session: { id: String } })
  t.equal(response.headers['cache-control'], 'no-store')
  clock.advance(900 + 30)
  const expired = await c.request('GET', '/auth/session', undefined, { cookie: c.jar.header('/auth/session') || `__Host-session=${'x'}` })
  t.equal(expired.statusCode, 401)
  const anonymous = await client(app).request('GET', '/auth/session')
  t.same(anonymous.json(), { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' })
})

test('the session list shows each live session, the current one flagged; ending one works at once', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  await addUser(app, 'bob')
  const laptop = await loggedIn(t, app, 'alice', undefined, clock)
  clock.advance(60)
  const phone = client(app)
  await phone.request('POST', '/auth/login', { username: 'alice', password: 'correct horse battery staple' }, { 'user-agent': 'Phone/1.0' })
  const bob = await loggedIn(t, app, 'bob', undefined, clock)
  clock.advance(60)
  await laptop.request('POST', '/auth/refresh')

  const list = await laptop.request('GET', '/auth/sessions')
  t.equal(list.statusCode, 200)
  const sessions = list.json().sessions as Array<{ id: string, createdAt: string, lastRefreshedAt: string, userAgent: string | null, current: boolean }>
  t.equal(sessions.length, 2)
  const [first, second] = sessions
  t.match(first, { current: true, userAgent: 'lightMyRequest' })
  t.not(first?.createdAt, first?.lastRefreshedAt, 'last refresh recorded')
  t.match(second, { current: false, userAgent: 'Phone/1.0' })

  const bobsId = (await bob.request('GET', '/auth/session')).json().session.id
  const notMine = await laptop.request('DELETE', `/auth/sessions/${bobsId as string}`)
  t.equal(notMine.statusCode, 404, 'another user\'s session is not found')
  t.equal(notMine.json().code, 'ERR_SESSION_NOT_FOUND')
  t.equal((await bob.request('GET', '/auth/session')).statusCode, 200, 'and untouched')
  t.equal((await laptop.request('DELETE', '/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA')).statusCode, 404)
  t.equal((await laptop.request('DELETE', '/auth/sessions/bad!id')).statusCode, 400)

  const ended = await laptop.request('DELETE', `/auth/sessions/${second?.id as string}`)
  t.equal(ended.statusCode, 204)
  t.same(ended.headers['set-cookie'], undefined, 'ending another session leaves my cookies alone')
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 401, 'the phone is out at once')
  t.equal((await laptop.request('GET', '/auth/sessions')).json().sessions.length, 1)

  const self = await laptop.request('DELETE', `/auth/sessions/${first?.id as string}`)
  t.equal(self.statusCode, 204)
  t.equal(laptop.jar.get('__Host-session'), undefined, 'ending the current session clears its cookies')
  t.equal((await laptop.request('GET', '/auth/sessions')).statusCode, 401)
})
