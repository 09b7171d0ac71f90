/**
 * The browser client against the real routes (fetch answered by inject() with a browser-like cookie jar), with
 * the test's clock and timers. Several clients sharing one jar, one lock manager and one channel name are
 * several tabs of one browser. Browser behaviour proper is proven in test/e2e/.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { createSessionClient, SessionClientError, type LogoutReason, type SessionClient, type SessionClientOptions, type SessionState } from '../../src/client/session-client.js'
import { addUser, buildTestApp, type CookieJar, ManualClock, TEST_PASSWORD } from '../helper.js'
import { FakeLocks, FakeTimers, injectFetch, newJar, type InjectFetch } from './fake-browser.js'

interface Browser {
  app: FastifyInstance
  clock: ManualClock
  timers: FakeTimers
  fetch: InjectFetch
  jar: CookieJar
  locks: FakeLocks
  /** Opens a tab: a client sharing this browser's cookies, lock and channel. */
  tab: (options?: SessionClientOptions) => SessionClient
}

async function browser (t: Test, env: Record<string, string> = {}): Promise<Browser> {
  const clock = new ManualClock()
  // These tests move the clock past access lifetimes and then end sessions: they are about refresh, not about
  // how recent the authentication is, so the freshness guard is set wide (test/http/routes/reauth.test.ts).
  const app = await buildTestApp(t, { clock: clock.now, env: { CLOCK_LEEWAY_SECONDS: '0', REAUTH_MAX_AGE_SECONDS: '86400', ...env } })
  await addUser(app)
  const jar = newJar(clock)
  const fetch = injectFetch(app, jar, clock.now)
  const timers = new FakeTimers(clock)
  const locks = new FakeLocks()
  const channelName = `test-${randomUUID()}`
  const tab = (options: SessionClientOptions = {}): SessionClient => {
    const client = createSessionClient({
      fetch,
      locks,
      broadcastChannel: (name) => new BroadcastChannel(name),
      now: clock.now,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
      channelName,
      ...options
    })
    t.teardown(() => { client.close() })
    return client
  }
  return { app, clock, timers, fetch, jar, locks, tab }
}

function record (client: SessionClient): { changes: Array<SessionState | null>, logouts: LogoutReason[] } {
  const seen = { changes: [] as Array<SessionState | null>, logouts: [] as LogoutReason[] }
  client.on('change', (state) => { seen.changes.push(state) })
  client.on('logout', ({ reason }) => { seen.logouts.push(reason) })
  return seen
}

/** Resolves at the client's next logout event (channel messages arrive on a later turn). */
async function nextLogout (client: SessionClient): Promise<LogoutReason> {
  return await new Promise((resolve) => {
    const off = client.on('logout', ({ reason }) => { off(); resolve(reason) })
  })
}

async function nextChange (client: SessionClient): Promise<SessionState | null> {
  return await new Promise((resolve) => {
    const off = client.on('change', (state) => { off(); resolve(state) })
  })
}

const calls = (fetch: InjectFetch, method: string, path: string): number =>
  fetch.calls.filter((c) => c.method === method && c.path === path).length

test('login: the session comes from the JSON answer, the tokens stay in the cookie jar', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  const seen = record(client)
  t.equal(client.state, null)
  t.equal(client.nextRefreshAt, null)

  const state = await client.login('alice', TEST_PASSWORD)
  t.equal(state.user.username, 'alice')
  t.same(state.user.roles, [])
  t.match(state.sessionId, /^[A-Za-z0-9_-]{22}$/)
  t.equal(state.accessExpiresAt, b.clock.seconds * 1000 + 900_000, 'access expiry on this clock')
  t.equal(state.refreshExpiresAt, b.clock.seconds * 1000 + 604_800_000)
  t.ok(Object.isFrozen(state) && Object.isFrozen(state.user) && Object.isFrozen(state.user.roles), 'the state cannot be changed by the app')
  t.equal(client.state, state)
  t.same(seen.changes, [state])
  t.equal(client.nextRefreshAt, state.accessExpiresAt - 30_000, 'refresh planned 30 s before expiry')

  const login = b.fetch.calls[0]
  t.same({ ...login, body: JSON.parse(login?.body ?? '') }, {
    method: 'POST',
    path: '/auth/login',
    credentials: 'include',
    contentType: 'application/json',
    body: { username: 'alice', password: TEST_PASSWORD }
  })
  t.equal(b.fetch.calls.filter((c) => c.contentType !== null).length, 1, 'only the login sends a body')
})

test('login with wrong credentials throws the service error and changes nothing', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  const seen = record(client)
  const error = await client.login('alice', 'wrong password!').catch((e: unknown) => e)
  t.ok(error instanceof SessionClientError)
  t.match(error, { name: 'SessionClientError', status: 401, code: 'ERR_INVALID_CREDENTIALS', message: 'Invalid username or password' })
  t.equal(client.state, null)
  t.same(seen.changes, [])
})

test('session(): null when logged out, the session when logged in, a refresh when only the refresh cookie is left', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  const seen = record(client)
  t.equal(await client.session(), null, 'no cookies: null')
  t.same(b.fetch.calls.map((c) => `${c.method} ${c.path}`), ['GET /auth/session/status'], 'one question, answered 200: neither cookie is there')
  t.same(seen, { changes: [], logouts: [] }, 'and no events: there was no session to lose')
  b.fetch.calls.length = 0

  const started = await client.login('alice', TEST_PASSWORD)
  const other = b.tab()
  const found = await other.session()
  t.equal(found?.sessionId, started.sessionId, 'a new tab finds the session from the cookies')
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 0)

  b.clock.advance(901)
  const third = b.tab()
  const refreshed = await third.session()
  t.equal(refreshed?.sessionId, started.sessionId, 'same session after the access cookie expired')
  t.equal(refreshed?.accessExpiresAt, b.clock.seconds * 1000 + 900_000, 'with a new access token')
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 1)
})

test('the refresh timer rotates the tokens shortly before the access token expires', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  const first = await client.login('alice', TEST_PASSWORD)
  const changed = nextChange(client)
  await b.timers.advance(869)
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 0, 'nothing before the margin')
  await b.timers.advance(1)
  const second = await changed
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 1, 'refreshed at expiry - 30 s')
  t.equal(second?.sessionId, first.sessionId)
  t.equal(second?.accessExpiresAt, first.accessExpiresAt + 870_000)
  t.equal(client.nextRefreshAt, (second?.accessExpiresAt ?? 0) - 30_000, 'and the next one planned')
  const response = await client.fetch('/auth/session')
  t.equal(response.status, 200)
})

test('a short access lifetime gets a margin of a quarter of it', async (t) => {
  const b = await browser(t, { ACCESS_TTL_SECONDS: '20', REFRESH_REUSE_GRACE_SECONDS: '2' })
  const client = b.tab()
  const state = await client.login('alice', TEST_PASSWORD)
  t.equal(client.nextRefreshAt, state.accessExpiresAt - 5000)
  const custom = b.tab({ refreshMarginSeconds: 2 })
  const found = await custom.session()
  t.equal(custom.nextRefreshAt, (found?.accessExpiresAt ?? 0) - 2000, 'refreshMarginSeconds when shorter')
})

test('fetch(): sends the cookies, and after the access token expired refreshes once and retries', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  await client.login('alice', TEST_PASSWORD)
  const ok = await client.fetch('/auth/sessions')
  t.equal(ok.status, 200)
  t.equal(b.fetch.calls.at(-1)?.credentials, 'include')

  // The server's clock moves past the access lifetime while this tab's timer never ran (a sleeping laptop).
  b.clock.advance(901)
  const before = b.fetch.calls.length
  const response = await client.fetch('/auth/sessions', { method: 'GET', headers: { accept: 'application/json' } })
  t.equal(response.status, 200, 'the app sees a 200')
  t.same(b.fetch.calls.slice(before).map((c) => `${c.method} ${c.path}`), ['POST /auth/refresh', 'GET /auth/sessions'],
    'refreshed first: the state said the token was due')

  b.clock.advance(901)
  b.timers.pending.clear()
  // A Request object with a body is replayed from a clone.
  const since = b.fetch.calls.length
  const again = await client.fetch(new Request('http://localhost/auth/logout-all', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }))
  t.equal(again.status, 204)
  t.same(b.fetch.calls.slice(since).map((c) => `${c.method} ${c.path} ${c.body}`), ['POST /auth/refresh ', 'POST /auth/logout-all {}'])
})

test('fetch(): a 401 refreshes once and retries; a second 401 goes back to the app', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  await client.login('alice', TEST_PASSWORD)
  // This tab's clock stops while the server's moves past the access lifetime: it believes its token is fresh.
  let lag = 0
  const fresh = b.tab({ broadcastChannel: null, now: () => b.clock.ms - lag })
  await fresh.session()
  b.clock.advance(901)
  lag = 901_000
  const since = b.fetch.calls.length
  const response = await fresh.fetch('/auth/sessions', { credentials: 'same-origin' })
  t.equal(response.status, 200)
  t.same(b.fetch.calls.slice(since).map((c) => `${c.method} ${c.path} ${c.credentials}`),
    ['GET /auth/sessions same-origin', 'POST /auth/refresh include', 'GET /auth/sessions same-origin'], 'the app\'s credentials mode is kept')

  const logoutAll = await fresh.fetch('/auth/logout-all', { method: 'POST' })
  t.equal(logoutAll.status, 204)
  const since2 = b.fetch.calls.length
  const after = await fresh.fetch('/auth/sessions')
  t.equal(after.status, 401, 'no session: the 401 reaches the app')
  t.same(b.fetch.calls.slice(since2).map((c) => `${c.method} ${c.path}`), ['GET /auth/sessions', 'POST /auth/refresh'], 'after one refresh attempt')
  const since3 = b.fetch.calls.length
  t.equal((await fresh.fetch('/auth/sessions')).status, 401)
  t.same(b.fetch.calls.slice(since3).map((c) => `${c.method} ${c.path}`), ['GET /auth/sessions'], 'known to be logged out: no more refresh attempts')
})

test('fetch(): a ReadableStream body cannot be sent twice, so it is not retried', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  const response = await client.fetch('/auth/logout-all', {
    method: 'POST',
    body: new ReadableStream({ start (controller) { controller.close() } }),
    duplex: 'half'
  } as RequestInit)
  t.equal(response.status, 401)
  t.same(b.fetch.calls.map((c) => `${c.method} ${c.path}`), ['POST /auth/logout-all'])
})

test('logout: the session ends in this tab and, at once, in the others', async (t) => {
  const b = await browser(t)
  const one = b.tab()
  const two = b.tab()
  const seenOne = record(one)
  const seenTwo = record(two)
  const state = await one.login('alice', TEST_PASSWORD)
  await nextChange(two)
  t.equal(two.state?.sessionId, state.sessionId, 'the other tab learned of the login')
  t.not(two.nextRefreshAt, null, 'and planned its own refresh')

  const elsewhere = nextLogout(two)
  await one.logout()
  t.equal(one.state, null)
  t.same(seenOne.logouts, ['logout'])
  t.equal(await elsewhere, 'logged-out-elsewhere')
  t.equal(two.state, null)
  t.equal(two.nextRefreshAt, null)
  t.same(seenTwo.changes.map((s) => s?.sessionId ?? null), [state.sessionId, null])
  t.equal((await one.fetch('/auth/session')).status, 401, 'the cookies are gone')
})

test('logoutAll ends every session of the user; the other device finds itself revoked', async (t) => {
  const b = await browser(t)
  const laptop = b.tab()
  await laptop.login('alice', TEST_PASSWORD)
  // Another device: its own cookie jar, same service and clock.
  const phoneFetch = injectFetch(b.app, newJar(b.clock), b.clock.now)
  const phone = createSessionClient({ fetch: phoneFetch, locks: null, broadcastChannel: null, now: b.clock.now, setTimeout: b.timers.setTimeout, clearTimeout: b.timers.clearTimeout })
  t.teardown(() => { phone.close() })
  const phoneState = await phone.login('alice', TEST_PASSWORD)
  t.equal((await laptop.sessions()).length, 2)

  await laptop.logoutAll()
  t.equal(laptop.state, null)
  const revoked = nextLogout(phone)
  t.equal((await phone.fetch('/auth/sessions')).status, 401)
  t.equal(await revoked, 'revoked', 'refresh refused before any expiry: revoked')
  t.equal(phone.state, null)
  t.not(phoneState, null)

  const error = await laptop.logoutAll().catch((e: unknown) => e)
  t.match(error, { status: 401, code: 'ERR_SESSION_INVALID' }, 'logoutAll without a session throws')
})

test('sessions() and endSession(): list, end another device, end this one', async (t) => {
  const b = await browser(t)
  const laptop = b.tab()
  const mine = await laptop.login('alice', TEST_PASSWORD)
  const phone = createSessionClient({ fetch: injectFetch(b.app, newJar(b.clock), b.clock.now), locks: null, broadcastChannel: null, now: b.clock.now, setTimeout: b.timers.setTimeout, clearTimeout: b.timers.clearTimeout })
  t.teardown(() => { phone.close() })
  const theirs = await phone.login('alice', TEST_PASSWORD)

  const list = await laptop.sessions()
  t.same(list.map((s) => [s.id, s.current]).sort(), [[mine.sessionId, true], [theirs.sessionId, false]].sort())
  t.match(list[0], { createdAt: String, lastRefreshedAt: String })

  await laptop.endSession(theirs.sessionId)
  t.equal(laptop.state?.sessionId, mine.sessionId, 'ending another session keeps this one')
  t.same((await laptop.sessions()).map((s) => s.id), [mine.sessionId])

  const error = await laptop.endSession('AAAAAAAAAAAAAAAAAAAAAA').catch((e: unknown) => e)
  t.match(error, { status: 404, code: 'ERR_SESSION_NOT_FOUND' })

  const seen = record(laptop)
  await laptop.endSession(mine.sessionId)
  t.equal(laptop.state, null, 'ending this session logs this browser out')
  t.same(seen.logouts, ['logout'])
  const after = await laptop.sessions().catch((e: unknown) => e)
  t.match(after, { status: 401, code: 'ERR_SESSION_INVALID' })
})

test('two tabs refreshing at the same moment: one rotation, both stay logged in, no reuse alarm', async (t) => {
  const b = await browser(t)
  const tabs = [b.tab(), b.tab(), b.tab()]
  const state = await tabs[0]?.login('alice', TEST_PASSWORD)
  await Promise.all(tabs.slice(1).map(async (tab) => await tab.session()))
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 0)

  b.clock.advance(880)
  const results = await Promise.all(tabs.map(async (tab) => await tab.refresh()))
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 1, 'one rotation for three tabs')
  t.same(new Set(results.map((s) => s?.sessionId)), new Set([state?.sessionId]), 'every tab has the session')
  t.same(new Set(results.map((s) => s?.accessExpiresAt)), new Set([b.clock.seconds * 1000 + 900_000]), 'with the new expiry')
  for (const tab of tabs) t.equal((await tab.fetch('/auth/sessions')).status, 200)
  t.equal((await tabs[0]?.sessions())?.length, 1, 'one live chain')
})

test('calls in one tab share one refresh', async (t) => {
  const b = await browser(t)
  const client = b.tab()
  await client.login('alice', TEST_PASSWORD)
  b.clock.advance(890)
  const [a, c] = await Promise.all([client.refresh(), client.refresh()])
  t.equal(a, c)
  t.equal(calls(b.fetch, 'POST', '/auth/refresh'), 1)
})

test('a tab that waited for the lock asks the server before rotating again', async (t) => {
  const b = await browser(t)
  // No channel: the waiting tab cannot have heard of the other tab's refresh.
  const one = b.tab({ broadcastChannel: null })
  const two = b.tab({ broadcastChannel: null })
  await one.login('alice', TEST_PASSWORD)
  await two.session()
  b.clock.advance(880)
  const before = b.fetch.calls.length
  await Promise.all([one.refresh(), two.refresh()])
  t.same(b.fetch.calls.slice(before).map((c) => `${c.method} ${c.path}`), ['POST /auth/refresh', 'GET /auth/session'])
  t.equal(two.state?.accessExpiresAt, one.state?.accessExpiresAt)
})

test('a tab that waited for the lock rotates itself when the server says the session is still due or gone', async (t) => {
  const b = await browser(t)
  const phone = createSessionClient({ fetch: injectFetch(b.app, newJar(b.clock), b.clock.now), locks: null, broadcastChannel: null, now: b.clock.now, setTimeout: b.timers.setTimeout, clearTimeout: b.timers.clearTimeout })
  t.teardown(() => { phone.close() })
  const theirs = await phone.login('alice', TEST_PASSWORD)
  // Tab one's clock runs 880 s behind (and no Date header tells it), so its calls never need a refresh: it
  // holds the lock for other work. Its requests are recorded with the others'.
  const withoutDate = injectFetch(b.app, b.jar)
  const one = b.tab({
    broadcastChannel: null,
    now: () => b.clock.ms - 880_000,
    fetch: async (input, init) => {
      b.fetch.calls.push({ method: init?.method ?? 'GET', path: String(input), credentials: 'include', contentType: null, body: '' })
      return await withoutDate(input, init)
    }
  })
  const two = b.tab({ broadcastChannel: null })
  await one.login('alice', TEST_PASSWORD)
  await two.session()
  b.clock.advance(880)
  const before = b.fetch.calls.length
  const ending = one.endSession(theirs.sessionId)
  await b.locks.whenHeld()
  await Promise.all([ending, two.refresh()])
  t.same(b.fetch.calls.slice(before).map((c) => `${c.method} ${c.path}`), ['DELETE /auth/sessions/' + theirs.sessionId, 'GET /auth/session', 'POST /auth/refresh'],
    'the session is still due after the other tab\'s work: refresh')

  // Both tabs refresh a session ended from elsewhere: each learns it is over.
  await phone.login('alice', TEST_PASSWORD)
  await phone.logoutAll()
  b.clock.advance(880)
  const since = b.fetch.calls.length
  const ends = [nextLogout(one), nextLogout(two)]
  const first = two.refresh()
  await b.locks.whenHeld()
  t.same(await Promise.all([first, one.refresh()]), [null, null])
  t.same(b.fetch.calls.slice(since).map((c) => `${c.method} ${c.path}`), ['POST /auth/refresh', 'GET /auth/session', 'POST /auth/refresh'])
  t.same(await Promise.all(ends), ['revoked', 'revoked'])
})
