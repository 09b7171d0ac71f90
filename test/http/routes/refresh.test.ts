/** Rotation, the grace window and reuse detection, moving the injected clock. */
import { test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, loggedIn, ManualClock } from '../../helper.js'

const ACCESS = '__Host-session'
const REFRESH = '__Secure-refresh'

async function setup (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env })
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  return { app, clock, c }
}

test('refresh rotates both cookies and keeps the session id', async (t) => {
  const { app, clock, c } = await setup(t)
  const before = await c.request('GET', '/auth/session')
  const oldAccess = c.jar.get(ACCESS)
  const oldRefresh = c.jar.get(REFRESH)
  clock.advance(60)
  const response = await c.request('POST', '/auth/refresh')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  t.not(c.jar.get(ACCESS), oldAccess)
  t.not(c.jar.get(REFRESH), oldRefresh)
  t.equal(response.json().session.id, before.json().session.id, 'same family')
  t.equal(response.json().session.accessExpiresAt, new Date((clock.seconds + 900) * 1000).toISOString())
  t.equal((await c.request('GET', '/auth/session')).statusCode, 200, 'the new access cookie works')
  t.equal((await client(app, new CookieJar(clock.now)).request('POST', '/auth/refresh')).statusCode, 401, 'no cookie: 401')
})

test('refresh takes no body, an empty JSON body or an empty object; other content types get 415 and rotate nothing', async (t) => {
  const { clock, c } = await setup(t)
  clock.advance(1)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'no body')
  t.equal((await c.request('POST', '/auth/refresh', {})).statusCode, 200, 'an empty object')
  t.equal((await c.request('POST', '/auth/refresh', undefined, { 'content-type': 'application/json' })).statusCode, 200, 'empty JSON body')
  const refresh = c.jar.get(REFRESH)
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const response = await c.request('POST', '/auth/refresh', undefined, { 'content-type': type })
    t.equal(response.statusCode, 415, type)
    t.equal(response.json().code, 'ERR_UNSUPPORTED_MEDIA_TYPE')
    t.same(response.headers['set-cookie'], undefined, 'no cookie set')
  }
  t.equal(c.jar.get(REFRESH), refresh, 'nothing rotated')
})

test('parallel refreshes with one token inside the grace window: all succeed with one successor', async (t) => {
  const { app, clock, c } = await setup(t)
  clock.advance(30)
  const tabs = Array.from({ length: 10 }, () => client(app, c.jar.clone()))
  const responses = await Promise.all(tabs.map(async (tab) => await tab.request('POST', '/auth/refresh')))
  t.same(responses.map((r) => r.statusCode), Array(10).fill(200))
  t.equal(new Set(responses.map((r) => r.json().session.accessExpiresAt)).size, 1, 'one successor pair')
  // Every tab's refresh token is the same successor: each can refresh once more, then the chain moves on.
  clock.advance(5)
  t.equal((await tabs[0]?.request('POST', '/auth/refresh'))?.statusCode, 200, 'the chain continues from any tab')
  const sessions = await tabs[0]?.request('GET', '/auth/sessions')
  t.equal(sessions?.json().sessions.length, 1, 'one live chain')
})

test('the predecessor after the grace window is reuse: the whole family dies at once', async (t) => {
  const { app, clock, c } = await setup(t)
  const stolen = c.jar.clone()
  clock.advance(60)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'the legitimate user refreshes')
  clock.advance(11)
  const thief = client(app, stolen)
  const reuse = await thief.request('POST', '/auth/refresh')
  t.equal(reuse.statusCode, 401)
  t.same(reuse.json(), { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' })
  t.equal(thief.jar.get(REFRESH), undefined, 'cookies cleared')
  t.equal((await c.request('GET', '/auth/session')).statusCode, 401, 'the victim\'s current access token is revoked too')
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 401, 'and the successor refresh token')
})

test('inside the grace window the predecessor gets the successor, a token two generations old is reuse', async (t) => {
  const { app, clock, c } = await setup(t)
  const gen0 = c.jar.clone()
  clock.advance(1)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  const gen1 = c.jar.clone()
  clock.advance(1)
  t.equal((await client(app, gen0.clone()).request('POST', '/auth/refresh')).statusCode, 200, 'gen0 replayed inside the window')
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'gen1 -> gen2')
  clock.advance(1)
  t.equal((await client(app, gen1).request('POST', '/auth/refresh')).statusCode, 200, 'gen1 is now the predecessor, in its window')
  t.equal((await client(app, gen0).request('POST', '/auth/refresh')).statusCode, 401, 'gen0 is two generations old: reuse')
  t.equal((await c.request('GET', '/auth/session')).statusCode, 401, 'family revoked')
})

test('idle timeout: a refresh token unused for its lifetime no longer works', async (t) => {
  const { clock, c } = await setup(t, { REFRESH_IDLE_TTL_SECONDS: '3600', ACCESS_TTL_SECONDS: '600' })
  clock.advance(3599)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'used in time')
  clock.advance(3600 + 30)
  const late = await c.request('POST', '/auth/refresh')
  t.equal(late.statusCode, 401, 'idle too long')
})

test('absolute lifetime: refreshing never extends a session past its maximum age', async (t) => {
  const { clock, c } = await setup(t, { SESSION_MAX_AGE_SECONDS: '7200', ACCESS_TTL_SECONDS: '600', REFRESH_IDLE_TTL_SECONDS: '3600' })
  const login = await c.request('GET', '/auth/session')
  const absolute = login.json().session.absoluteExpiresAt
  t.equal(absolute, new Date((clock.seconds + 7200) * 1000).toISOString())
  clock.advance(3000)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  clock.advance(3000)
  const near = await c.request('POST', '/auth/refresh')
  t.equal(near.statusCode, 200)
  t.equal(near.json().session.refreshExpiresAt, absolute, 'the refresh token ends with the session')
  t.equal(near.json().session.absoluteExpiresAt, absolute)
  clock.advance(1200)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 401, 'past the absolute lifetime')
  t.equal((await c.request('GET', '/auth/session')).statusCode, 401)
})

test('an access token in the refresh cookie is refused, and is not taken for reuse', async (t) => {
  const { app, clock, c } = await setup(t)
  const jar = new CookieJar(clock.now)
  jar.cookies.set(REFRESH, { value: c.jar.get(ACCESS) as string, path: '/auth', expiresAtMs: undefined, attributes: {} })
  t.equal((await client(app, jar).request('POST', '/auth/refresh')).statusCode, 401)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'the real family is untouched')
})

test('refresh picks up role changes and refuses disabled users', async (t) => {
  const { app, clock, c } = await setup(t)
  await app.users.setRolesOf('alice', ['editor'])
  clock.advance(1)
  const refreshed = await c.request('POST', '/auth/refresh')
  t.same(refreshed.json().user.roles, ['editor'])
  await app.users.setDisabledOf('alice', true)
  clock.advance(1)
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 401)
})
