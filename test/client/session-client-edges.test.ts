/**
 * The client's answers to what the real service rarely or never says (5xx, garbage, skewed clocks), to
 * messages from other tabs, and to races between a tab's own timer, calls and messages. The fetch here is
 * scripted; the tests against the real routes are in session-client.test.ts.
 */
import { randomUUID } from 'node:crypto'
import { test, type Test } from 'tap'
import { createSessionClient, SessionClientError, type SessionClient, type SessionClientOptions, type SessionState } from '../../src/client/session-client.js'
import { ManualClock } from '../helper.js'
import { FakeLocks, FakeTimers, json, scriptedFetch, sessionJson, settle, type InjectFetch } from './fake-browser.js'

type Answer = Parameters<typeof scriptedFetch>[0][number]

interface Setup {
  clock: ManualClock
  timers: FakeTimers
  fetch: InjectFetch
  client: SessionClient
  /** Another tab's end of the channel, to post messages as a tab would. */
  peer: BroadcastChannel
  locks: FakeLocks
  lockName: string
}

function setup (t: Test, answers: Answer[], options: SessionClientOptions = {}): Setup {
  const clock = new ManualClock()
  const timers = new FakeTimers(clock)
  const fetch = scriptedFetch(answers)
  const channelName = `edge-${randomUUID()}`
  const locks = new FakeLocks()
  const client = createSessionClient({
    fetch,
    locks,
    broadcastChannel: (name) => new BroadcastChannel(name),
    channelName,
    now: clock.now,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    ...options
  })
  const peer = new BroadcastChannel(channelName)
  t.teardown(() => { client.close(); peer.close() })
  return { clock, timers, fetch, client, peer, locks, lockName: `${channelName} lock` }
}

/** A deferred answer: the request stays in flight until `release` is called. */
function held (): { answer: () => Promise<Response>, release: (response: Response) => void } {
  let release = (_response: Response): void => {}
  const promise = new Promise<Response>((resolve) => { release = resolve })
  return { answer: async () => await promise, release }
}

const unavailable = (): Response => json(503, { statusCode: 503, code: 'ERR_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The session store is unavailable; try again shortly' })
const invalid = (): Response => json(401, { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' })

test('defaults: the browser globals, the page origin and /auth', async (t) => {
  const saved = globalThis.fetch
  const seen: string[] = []
  globalThis.fetch = async function (this: unknown, input: RequestInfo | URL) {
    seen.push(String(input))
    return json(200, sessionJson(Date.now()))
  }
  t.teardown(() => { globalThis.fetch = saved })
  const client = createSessionClient()
  const state = await client.session()
  t.equal(state?.user.username, 'alice')
  t.same(seen, ['/auth/session/status', '/auth/session'], 'the status answer is no status (this fake answers a session to all): then GET /session, as before')
  t.ok((client.nextRefreshAt ?? 0) > Date.now(), 'a real timer is planned')
  t.equal((await client.refresh())?.user.username, 'alice', 'under the BroadcastChannel lock: Node has no navigator.locks')
  client.close()
  t.equal(client.nextRefreshAt, null, 'close() stops it')

  const custom = createSessionClient({ baseUrl: 'https://auth.example.com/', authPrefix: '/api/auth' })
  await custom.session()
  t.equal(seen[3], 'https://auth.example.com/api/auth/session/status')
  custom.close()
})

test('defaults: Web Locks from navigator.locks when the page has them', async (t) => {
  const locks = new FakeLocks()
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true })
  t.teardown(() => { Reflect.deleteProperty(globalThis, 'navigator') })
  const client = createSessionClient({ fetch: scriptedFetch([() => json(200, sessionJson(Date.now()))]), setTimeout: () => 0, clearTimeout: () => {} })
  t.teardown(() => { client.close() })
  const granted = locks.whenHeld()
  await client.login('alice', 'password')
  await granted
  t.pass('the login held the Web Lock')
})

test('defaults: without BroadcastChannel the tab works alone', async (t) => {
  const saved = globalThis.BroadcastChannel
  Reflect.deleteProperty(globalThis, 'BroadcastChannel')
  t.teardown(() => { globalThis.BroadcastChannel = saved })
  const fetch = scriptedFetch([() => json(200, sessionJson(Date.now())), () => new Response(null, { status: 204 })])
  const client = createSessionClient({ fetch, setTimeout: () => 0, clearTimeout: () => {} })
  t.teardown(() => { client.close() })
  await client.login('alice', 'password')
  await client.logout()
  t.equal(client.state, null)
})

test('errors: the service\'s code when it sends one, ERR_UNEXPECTED_RESPONSE when it does not', async (t) => {
  const { client, clock } = setup(t, [
    unavailable,
    () => new Response('<html>Bad gateway</html>', { status: 502 }),
    () => json(200, { user: { id: 'u', username: 'alice', roles: ['a', 1] }, session: {} }),
    () => json(200, { ...(sessionJson(0) as object), session: { id: 's', accessExpiresAt: 'yesterday', refreshExpiresAt: 'x', absoluteExpiresAt: 'y' } }),
    () => json(200, sessionJson(clock.ms)),
    () => json(200, { sessions: [{ id: 's', createdAt: 'x', lastRefreshedAt: 'y', userAgent: 7, current: true }] }),
    () => json(200, []),
    () => json(200, { sessions: [{ id: 's', createdAt: 'x', lastRefreshedAt: 'y', userAgent: null, current: true }] }),
    unavailable
  ])
  const error = await client.session().catch((e: unknown) => e)
  t.ok(error instanceof SessionClientError)
  t.match(error, { status: 503, code: 'ERR_STORE_UNAVAILABLE', message: 'The session store is unavailable; try again shortly' })
  t.match(await client.session().catch((e: unknown) => e), { status: 502, code: 'ERR_UNEXPECTED_RESPONSE', message: 'Unexpected answer: HTTP 502' })
  t.match(await client.login('alice', 'pw').catch((e: unknown) => e), { status: 200, code: 'ERR_UNEXPECTED_RESPONSE' }, 'a session body of the wrong shape')
  t.match(await client.login('alice', 'pw').catch((e: unknown) => e), { status: 200, code: 'ERR_UNEXPECTED_RESPONSE' }, 'times that are not times')
  t.equal(client.state, null)
  await client.login('alice', 'pw')
  t.match(await client.sessions().catch((e: unknown) => e), { code: 'ERR_UNEXPECTED_RESPONSE' }, 'a session list of the wrong shape')
  t.match(await client.sessions().catch((e: unknown) => e), { code: 'ERR_UNEXPECTED_RESPONSE' }, 'not even an object')
  t.same(await client.sessions(), [{ id: 's', createdAt: 'x', lastRefreshedAt: 'y', userAgent: null, current: true }])
  t.match(await client.logout().catch((e: unknown) => e), { status: 503 }, 'a failed logout throws')
  t.not(client.state, null, 'and keeps the session')
})

test('endSession() sends the id as one path segment', async (t) => {
  const { client, fetch } = setup(t, [() => new Response(null, { status: 204 })])
  await client.endSession('a/b?c')
  t.equal(fetch.calls[0]?.path, '/auth/sessions/a%2Fb%3Fc')
})

test('the Date header corrects a skewed browser clock; under two seconds is not skew', async (t) => {
  // session() asks GET /session/status first, then GET /session.
  const signedIn = (): Response => json(200, { authenticated: true, refreshable: true })
  const { client, clock } = setup(t, [
    signedIn,
    () => json(200, sessionJson(clock.ms + 3_600_000), { date: new Date(clock.ms + 3_600_000).toUTCString() }),
    signedIn,
    () => json(200, sessionJson(clock.ms), { date: new Date(clock.ms + 1500).toUTCString() }),
    signedIn,
    () => json(200, sessionJson(clock.ms), { date: 'not a date' })
  ])
  const ahead = await client.session()
  t.equal(ahead?.accessExpiresAt, clock.ms + 900_000, 'server an hour ahead: its times moved onto this clock')
  t.equal(ahead?.refreshExpiresAt, clock.ms + 604_800_000)
  const close = await client.session()
  t.equal(close?.accessExpiresAt, clock.ms + 900_000, 'within the header\'s resolution: taken as is')
  const garbage = await client.session()
  t.equal(garbage?.accessExpiresAt, clock.ms + 900_000, 'an unreadable Date header changes nothing')
})

test('a fresh session that is already due on this clock is not refreshed in a loop', async (t) => {
  // No Date header, and a browser clock 20 minutes fast: the tokens look expired on arrival.
  const { client, clock, timers, fetch } = setup(t, [
    () => json(200, sessionJson(clock.ms - 1_200_000)),
    () => json(200, sessionJson(clock.ms - 1_200_000))
  ])
  await client.login('alice', 'pw')
  t.equal(client.nextRefreshAt, clock.ms + 5000, 'next refresh no sooner than 5 s')
  await timers.advance(4.9)
  t.equal(fetch.calls.length, 1)
  await timers.advance(0.1)
  t.same(fetch.calls.map((c) => c.path), ['/auth/login', '/auth/refresh'])
  t.equal(client.nextRefreshAt, clock.ms + 5000)
})

test('refresh failures: a 401 ends the session (expired or revoked), a 5xx keeps it and tries again', async (t) => {
  const { client, clock, timers, fetch } = setup(t, [
    () => json(200, sessionJson(clock.ms, 900, 's1', 1200)),
    unavailable,
    new TypeError('Failed to fetch'),
    () => json(200, sessionJson(clock.ms, 900, 's1', 1200)),
    invalid
  ])
  const logouts: string[] = []
  client.on('logout', ({ reason }) => { logouts.push(reason) })
  await client.login('alice', 'pw')
  await timers.advance(870)
  t.same(fetch.calls.map((c) => c.path), ['/auth/login', '/auth/refresh'])
  t.not(client.state, null, 'a 503 keeps the session')
  t.equal(client.nextRefreshAt, clock.ms + 5000, 'and tries again in 5 s')
  await timers.advance(5)
  t.equal(fetch.calls.length, 3, 'a network error too')
  t.equal(client.nextRefreshAt, clock.ms + 5000)
  await timers.advance(5)
  t.equal(fetch.calls.length, 4)
  t.equal(client.state?.accessExpiresAt, clock.ms + 900_000, 'then it works again')

  clock.advance(1300)
  t.equal(await client.refresh(), null)
  t.same(logouts, ['expired'], 'refused after the idle timeout: expired')
  t.equal(client.nextRefreshAt, null)
})

test('a refresh that fails while the session ended, or was renewed by another tab, plans nothing', async (t) => {
  const first = held()
  const second = held()
  const third = held()
  const { client, clock, timers, peer } = setup(t, [() => json(200, sessionJson(clock.ms)), first.answer, second.answer, third.answer])
  await client.login('alice', 'pw')
  await timers.advance(870)
  // While the timer's refresh is out, another tab logs out; then the refresh fails.
  const ended = new Promise((resolve) => { client.on('logout', resolve) })
  peer.postMessage({ type: 'logout', reason: 'logout' })
  t.same(await ended, { reason: 'logged-out-elsewhere' })
  first.release(unavailable())
  await settle()
  t.equal(client.nextRefreshAt, null, 'ended: no retry')

  // Logged in again (another tab's login), the timer's refresh out, another tab's refresh arrives, then it fails.
  const adopted = new Promise((resolve) => { client.on('change', resolve) })
  peer.postMessage({ type: 'session', state: { user: { id: 'u', username: 'alice', roles: [] }, sessionId: 's2', accessExpiresAt: clock.ms + 10_000, refreshExpiresAt: clock.ms + 60_000, absoluteExpiresAt: clock.ms + 90_000 } })
  await adopted
  await timers.advance(10)
  const renewed: SessionState = { user: { id: 'u', username: 'alice', roles: [] }, sessionId: 's2', accessExpiresAt: clock.ms + 900_000, refreshExpiresAt: clock.ms + 60_000, absoluteExpiresAt: clock.ms + 90_000 }
  const changed = new Promise((resolve) => { client.on('change', resolve) })
  peer.postMessage({ type: 'session', state: renewed })
  await changed
  const planned = client.nextRefreshAt
  second.release(unavailable())
  await settle()
  t.equal(client.nextRefreshAt, planned, 'the plan made for the renewed session stands')

  // Closed while the refresh is out.
  await timers.advance(900)
  client.close()
  third.release(unavailable())
  await settle()
  t.equal(client.nextRefreshAt, null)
})

test('messages from other tabs: sessions and logouts are taken, anything else ignored', async (t) => {
  const { client, clock, peer } = setup(t, [])
  const events: unknown[] = []
  client.on('change', (state) => { events.push(state?.sessionId ?? null) })
  client.on('logout', ({ reason }) => { events.push(reason) })
  const state = { user: { id: 'u', username: 'alice', roles: ['r'] }, sessionId: 's1', accessExpiresAt: clock.ms + 900_000, refreshExpiresAt: clock.ms + 1000, absoluteExpiresAt: clock.ms + 2000 }
  for (const noise of [null, 7, 'session', { type: 'session' }, { type: 'session', state: { ...state, accessExpiresAt: 'soon' } },
    { type: 'session', state: { ...state, user: { id: 'u' } } }, { type: 'logout', reason: 'whatever' }, { type: 'reload' }]) {
    peer.postMessage(noise)
  }
  peer.postMessage({ type: 'session', state })
  await settle()
  t.same(events, ['s1'], 'only the well-formed session')
  t.same(client.state, state)

  peer.postMessage({ type: 'logout', reason: 'revoked' })
  await settle()
  t.same(events, ['s1', null, 'revoked'], 'revoked elsewhere, and not expired here: revoked')

  peer.postMessage({ type: 'session', state })
  clock.advance(1)
  peer.postMessage({ type: 'logout', reason: 'expired' })
  await settle()
  t.same(events.slice(3), ['s1', null, 'expired'], 'past the idle timeout here too: expired')

  client.close()
  peer.postMessage({ type: 'session', state })
  await settle()
  t.equal(client.state, null, 'a closed client hears nothing')
})

test('a throwing listener does not stop the others, and is reported to the page', async (t) => {
  const { client, clock } = setup(t, [() => json(200, sessionJson(clock.ms)), () => json(200, sessionJson(clock.ms))])
  const reported: unknown[] = []
  Object.assign(globalThis, { reportError: (error: unknown) => { reported.push(error) } })
  t.teardown(() => { Reflect.deleteProperty(globalThis, 'reportError') })
  const seen: string[] = []
  const off = client.on('change', () => { throw new Error('listener bug') })
  client.on('change', (state) => { seen.push(state?.sessionId ?? 'null') })
  await client.login('alice', 'pw')
  t.same(seen, ['session-one-000000000'])
  t.match(reported, [{ message: 'listener bug' }])
  Reflect.deleteProperty(globalThis, 'reportError')
  await client.login('alice', 'pw')
  t.equal(seen.length, 2, 'without reportError the error is dropped')
  off()
})

test('a login answered after close() plans no refresh', async (t) => {
  const answer = held()
  const { client, clock } = setup(t, [answer.answer])
  const login = client.login('alice', 'pw')
  await settle()
  client.close()
  answer.release(json(200, sessionJson(clock.ms)))
  await login
  t.equal(client.nextRefreshAt, null)
})

test('a logout from another tab that lands while a call is out: its 401 goes back as it is', async (t) => {
  const call = held()
  const { client, clock, fetch, peer } = setup(t, [() => json(200, sessionJson(clock.ms)), call.answer])
  await client.login('alice', 'pw')
  const response = client.fetch('/api/things')
  await settle()
  peer.postMessage({ type: 'logout', reason: 'logout' })
  await settle()
  call.release(invalid())
  t.equal((await response).status, 401, 'the 401 goes back: the session is known to be over')
  t.same(fetch.calls.map((c) => c.path), ['/auth/login', '/api/things'])
})

test('a refresh that waited for the lock uses what another tab did meanwhile', async (t) => {
  const { client, clock, fetch, peer, locks, lockName } = setup(t, [() => json(200, sessionJson(clock.ms))])
  await client.login('alice', 'pw')
  clock.advance(880)
  const state = (sessionId: string): SessionState => ({ user: { id: 'u', username: 'alice', roles: [] }, sessionId, accessExpiresAt: clock.ms + 900_000, refreshExpiresAt: clock.ms + 90_000, absoluteExpiresAt: clock.ms + 99_000 })

  // Another tab holds the lock, refreshes, and says so before letting go.
  let release = (): void => {}
  const busy = locks.request(lockName, {}, async () => { await new Promise<void>((resolve) => { release = resolve }) })
  const waiting = client.refresh()
  await settle()
  peer.postMessage({ type: 'session', state: state('renewed') })
  await settle()
  release()
  await busy
  t.equal((await waiting)?.sessionId, 'renewed', 'no request of its own')

  // Another tab holds the lock and logs out.
  clock.advance(880)
  const busy2 = locks.request(lockName, {}, async () => { await new Promise<void>((resolve) => { release = resolve }) })
  const waiting2 = client.refresh()
  await settle()
  peer.postMessage({ type: 'logout', reason: 'logout' })
  await settle()
  release()
  await busy2
  t.equal(await waiting2, null, 'logged out meanwhile: nothing to refresh')
  t.same(fetch.calls.map((c) => c.path), ['/auth/login'])
})

test('a call made when the refresh is due refreshes first, and goes ahead even if that refresh fails', async (t) => {
  const { client, clock, timers, fetch } = setup(t, [() => json(200, sessionJson(clock.ms)), unavailable, () => json(200, { ok: true })])
  await client.login('alice', 'pw')
  timers.pending.clear()
  clock.advance(880)
  const response = await client.fetch('/api/things')
  t.equal(response.status, 200)
  t.same(fetch.calls.map((c) => c.path), ['/auth/login', '/auth/refresh', '/api/things'])
})

test('session() with a service that has no GET /session/status (404): as before, GET /session then a refresh', async (t) => {
  const notFound = (): Response => json(404, { statusCode: 404, code: 'ERR_ROUTE_NOT_FOUND', error: 'Not Found', message: 'Route GET:/auth/session/status not found' })
  const { client, clock, fetch } = setup(t, [
    notFound,
    () => json(200, sessionJson(clock.ms)),
    notFound,
    () => json(401, { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' }),
    () => json(401, { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' })
  ])
  t.equal((await client.session())?.user.username, 'alice')
  t.equal(await client.session(), null)
  t.same(fetch.calls.map((c) => `${c.method} ${c.path}`), ['GET /auth/session/status', 'GET /auth/session', 'GET /auth/session/status', 'GET /auth/session', 'POST /auth/refresh'])
})

test('session() when the status says a refresh cookie is there but no valid access cookie: one refresh; a 503 status rejects', async (t) => {
  const { client, clock, fetch } = setup(t, [
    () => json(200, { authenticated: false, refreshable: true }),
    () => json(200, sessionJson(clock.ms)),
    () => json(503, { statusCode: 503, code: 'ERR_SESSION_STORE_STALE', error: 'Service Unavailable', message: 'stale' })
  ])
  t.equal((await client.session())?.user.username, 'alice')
  t.same(fetch.calls.map((c) => `${c.method} ${c.path}`), ['GET /auth/session/status', 'POST /auth/refresh'])
  await t.rejects(client.session(), { status: 503, code: 'ERR_SESSION_STORE_STALE' })
})
