/**
 * Faults injected into a real redis-server under two instances: killed during a refresh load, one instance
 * cut off from the network, restarted with and without its data, paused. Never a 500, never a revoked token
 * accepted, never a forked family; recovery without restarting the instances.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type Test } from 'tap'
import { closeRedis, connectRedis } from '../../src/stores/redis-client.js'
import { RedisUserStore } from '../../src/users/redis-user-store.js'
import { addUser, buildTestApp, client, loggedIn, ManualClock, parseSetCookie, setCookieHeaders, TEST_PASSWORD, type Client } from '../helper.js'
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js'
import { startRedis } from '../helpers/redis-server.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { waitFor } from '../helpers/wait-for.js'
import { joseOpen } from '../tokens/token-kit.js'

const ACCESS = '__Host-session'
const REFRESH = '__Secure-refresh'

interface Instance {
  app: FastifyInstance
  logs: CapturedLogs
}

async function instance (t: Test, url: string, clock: ManualClock, env: Record<string, string> = {}): Promise<Instance> {
  const logs = captureLogs()
  const app = await buildTestApp(t, {
    // 2 s: short enough to wait for, long enough that a stalled event loop on a busy machine does not make a
    // healthy instance stale in the middle of an assertion.
    // The refresh load comes from one address: no refresh rate limit here, this is about Redis failing.
    env: { STORE: 'redis', REDIS_URL: url, REDIS_MAX_STALENESS_SECONDS: '2', RATE_LIMIT_REFRESH_IP_MAX: '1000000', LOG_LEVEL: 'info', ...env },
    clock: clock.now,
    logger: logs.logger
  })
  return { app, logs }
}

async function accessStatus (app: FastifyInstance, token: string | undefined): Promise<number> {
  return (await app.inject({ url: '/auth/session', headers: { cookie: `${ACCESS}=${token ?? ''}` } })).statusCode
}

async function ready (app: FastifyInstance): Promise<LightMyRequestResponse> {
  return await app.inject('/readyz')
}

async function jti (token: string, kind: 'access' | 'refresh'): Promise<string> {
  return String((await joseOpen(token, kind)).claims.jti)
}

function newCookie (response: LightMyRequestResponse, name: string): string | undefined {
  return setCookieHeaders(response).map(parseSetCookie).find((c) => c.name === name)?.value
}

test('Redis killed during a refresh load, then restarted with its data', async (t) => {
  const redis = await startRedis(t, { aof: true })
  const clock = new ManualClock()
  const a = await instance(t, redis.url, clock)
  const b = await instance(t, redis.url, clock)
  const apps = [a.app, b.app]

  const clients: Client[] = []
  for (let i = 0; i < 6; i++) {
    await addUser(a.app, `load-${i}`)
    clients.push(await loggedIn(t, apps[i % 2] as FastifyInstance, `load-${i}`, TEST_PASSWORD, clock))
  }
  // Two sessions logged out before the fault: their access tokens must never be accepted again.
  const revoked: string[] = []
  for (let i = 0; i < 2; i++) {
    await addUser(a.app, `gone-${i}`)
    const gone = await loggedIn(t, a.app, `gone-${i}`, TEST_PASSWORD, clock)
    revoked.push(gone.jar.get(ACCESS) as string)
    t.equal((await gone.request('POST', '/auth/logout')).statusCode, 204)
  }
  for (const token of revoked) await waitFor('B to learn the logouts', async () => await accessStatus(b.app, token), (s) => s === 401)

  const statuses = new Map<number, number>()
  const successors = new Map<string, Set<string>>()
  let revokedAccepted = 0
  let phase: 'before' | 'down' | 'after' = 'before'
  const load = { running: true }

  async function refreshLoop (c: Client, index: number): Promise<void> {
    for (let round = 0; load.running; round++) {
      const app = apps[(index + round) % 2] as FastifyInstance
      const presented = c.jar.get(REFRESH) as string
      const response = await client(app, c.jar).request('POST', '/auth/refresh')
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      if (response.statusCode === 200) {
        const key = await jti(presented, 'refresh')
        const set = successors.get(key) ?? new Set()
        set.add(await jti(newCookie(response, REFRESH) as string, 'refresh'))
        successors.set(key, set)
      }
      for (const token of revoked) {
        if (await accessStatus(app, token) === 200) revokedAccepted++
      }
      await sleep(5)
    }
  }
  const loops = clients.map(async (c, i) => { await refreshLoop(c, i) })

  await sleep(300)
  phase = 'down'
  await redis.kill()
  await waitFor('both instances to refuse sessions (stale view)', async () => await Promise.all(apps.map(async (app) => await accessStatus(app, clients[0]?.jar.get(ACCESS)))), (s) => s.every((code) => code === 503))
  t.equal((await ready(a.app)).statusCode, 503, '/readyz says not ready while Redis is down')
  await redis.start()
  phase = 'after'
  for (const app of apps) await waitFor('/readyz to recover', async () => (await ready(app)).statusCode, (s) => s === 200)
  await sleep(300)
  load.running = false
  await Promise.all(loops)

  t.equal(phase, 'after')
  t.ok((statuses.get(200) ?? 0) > 0, `refreshes succeeded (${JSON.stringify(Object.fromEntries(statuses))})`)
  t.ok((statuses.get(503) ?? 0) > 0, 'refreshes during the outage answered 503')
  t.same([...statuses.keys()].filter((s) => s !== 200 && s !== 503), [], 'nothing but 200 and 503: no 500, and no false reuse alarm (401)')
  t.equal(revokedAccepted, 0, 'a revoked access token was never accepted')
  t.same([...successors.values()].filter((s) => s.size > 1), [], 'no token ever had two different successors: no forked family')
  for (const [i, c] of clients.entries()) {
    t.equal((await client(apps[i % 2] as FastifyInstance, c.jar).request('POST', '/auth/refresh')).statusCode, 200, `client ${i} goes on refreshing`)
  }
  t.same([...a.logs.audits('refresh.reuse_detected'), ...b.logs.audits('refresh.reuse_detected')], [], 'no reuse alarm')

  const after = await loggedIn(t, a.app, 'load-0', TEST_PASSWORD, clock)
  const token = after.jar.get(ACCESS)
  t.equal((await after.request('POST', '/auth/logout')).statusCode, 204, 'a logout after recovery')
  await waitFor('B to learn the new logout', async () => await accessStatus(b.app, token), (s) => s === 401)
  t.ok(b.logs.messages('revocation feed restored').length >= 1, 'B logged its recovery')
})

test('an instance cut off from Redis serves from memory, then refuses, then catches up before serving again', async (t) => {
  const redis = await startRedis(t)
  const proxy = await startTcpProxy(t, redis.port)
  const clock = new ManualClock()
  const a = await instance(t, redis.url, clock)
  const b = await instance(t, proxy.url, clock)
  await addUser(a.app, 'kept')
  await addUser(a.app, 'leaving')
  const kept = await loggedIn(t, a.app, 'kept', TEST_PASSWORD, clock)
  const leaving = await loggedIn(t, a.app, 'leaving', TEST_PASSWORD, clock)
  const leavingAccess = leaving.jar.get(ACCESS)

  proxy.cut()
  t.equal(await accessStatus(b.app, kept.jar.get(ACCESS)), 200, 'cut off, B still checks access tokens from memory: no round trip to Redis')
  const failFast = [
    ['logout-all', await client(b.app, kept.jar.clone()).request('POST', '/auth/logout-all')],
    ['list sessions', await client(b.app, kept.jar.clone()).request('GET', '/auth/sessions')],
    ['end a session', await client(b.app, kept.jar.clone()).request('DELETE', '/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA')]
  ] as const
  for (const [name, response] of failFast) {
    t.equal(response.statusCode, 503, `${name} answers 503 at once`)
    t.match(response.json().code, /^ERR_(STORE_UNAVAILABLE|SESSION_STORE_STALE)$/, `${name}: store unavailable (or, after a stall, the view already stale)`)
    t.same(setCookieHeaders(response), [], `${name} changes no cookie`)
  }
  t.equal((await leaving.request('POST', '/auth/logout')).statusCode, 204, 'A logs a session out meanwhile')

  const whileCut: number[] = []
  await waitFor('B to refuse sessions once its view is stale', async () => {
    whileCut.push(await accessStatus(b.app, leavingAccess))
    return await accessStatus(b.app, kept.jar.get(ACCESS))
  }, (s) => s === 503)
  const stale = await b.app.inject({ url: '/auth/session', headers: { cookie: `${ACCESS}=${kept.jar.get(ACCESS) as string}` } })
  t.same(stale.json(), { statusCode: 503, code: 'ERR_SESSION_STORE_STALE', error: 'Service Unavailable', message: 'Sessions cannot be checked right now: the revocation list is out of date; try again shortly' })
  t.equal((await client(b.app, kept.jar.clone()).request('GET', '/auth/sessions')).json().code, 'ERR_SESSION_STORE_STALE', 'requireSession answers 503 too')
  t.equal((await ready(b.app)).json().code, 'ERR_STORE_UNAVAILABLE', '/readyz: Redis unreachable')
  t.equal(await accessStatus(b.app, 'not-a-token'), 401, 'a token that is invalid anyway is still plainly refused')

  const failures = [
    ['login', await client(b.app).request('POST', '/auth/login', { username: 'kept', password: TEST_PASSWORD })],
    ['refresh', await client(b.app, kept.jar.clone()).request('POST', '/auth/refresh')],
    ['logout', await client(b.app, kept.jar.clone()).request('POST', '/auth/logout')]
  ] as const
  for (const [name, response] of failures) {
    t.equal(response.statusCode, 503, `${name} answers 503`)
    t.equal(response.json().code, 'ERR_STORE_UNAVAILABLE', `${name}: the store is unavailable`)
    t.same(setCookieHeaders(response), [], `${name} sets no cookie`)
  }

  proxy.restore()
  const first = await waitFor('B to serve again', async () => await accessStatus(b.app, leavingAccess), (s) => s !== 503)
  t.equal(first, 401, 'the first answer after reconnecting already knows the logout A made meanwhile')
  t.same(whileCut.filter((s) => s !== 200 && s !== 503), [], 'while cut off: accepted from memory until stale, then 503')
  t.equal(await accessStatus(b.app, kept.jar.get(ACCESS)), 200, 'other sessions are served again')
  // Each connection reconnects on its own schedule (at most a second apart): readiness covers both.
  await waitFor('B to be ready again', async () => (await ready(b.app)).statusCode, (s) => s === 200)
  t.equal((await client(b.app, kept.jar).request('POST', '/auth/refresh')).statusCode, 200, 'refresh works again, no restart needed')
})

test('Redis restarted empty (no persistence): what is lost, and how the service stays safe', async (t) => {
  const redis = await startRedis(t)
  const clock = new ManualClock()
  const a = await instance(t, redis.url, clock)
  const b = await instance(t, redis.url, clock)
  await addUser(a.app, 'survivor')
  const [user] = await a.app.users.list()
  const revoked = await loggedIn(t, a.app, 'survivor', TEST_PASSWORD, clock)
  const revokedAccess = revoked.jar.get(ACCESS)
  t.equal((await revoked.request('POST', '/auth/logout')).statusCode, 204)
  await waitFor('B to learn the logout', async () => await accessStatus(b.app, revokedAccess), (s) => s === 401)
  const live = await loggedIn(t, b.app, 'survivor', TEST_PASSWORD, clock)

  await redis.restart()
  for (const { app } of [a, b]) {
    await waitFor('the instance to notice the lost log and reload', async () => (await ready(app)).json()?.revocations?.logReloads, (n) => n === 1)
  }
  t.equal(a.logs.messages('the store lost its revocation log (Redis restarted without its data?): reloading and restoring the revocations this instance knows; sessions whose records were lost must log in again').length, 1, 'logged as an error')

  for (const { app } of [a, b]) {
    t.equal(await accessStatus(app, revokedAccess), 401, 'revocations known before the loss stay in force')
    t.equal(await accessStatus(app, live.jar.get(ACCESS)), 200, 'live access tokens stay valid until they expire (they are self-contained)')
  }
  const c = await instance(t, redis.url, clock)
  t.equal(await accessStatus(c.app, revokedAccess), 401, 'an instance started after the loss learns the old revocations, restored by the survivors')

  t.equal((await client(a.app).request('POST', '/auth/login', { username: 'survivor', password: TEST_PASSWORD })).statusCode, 401, 'users are lost: nobody can log in until they are added again')
  t.equal((await client(a.app, live.jar.clone()).request('POST', '/auth/refresh')).statusCode, 401, 'a refresh for a lost user is refused')
  t.match(a.logs.audits('refresh.failed').at(-1), { reason: 'user-unavailable' })

  const restore = await connectRedis({ url: redis.url, commandTimeoutMs: 1000 })
  t.teardown(async () => { await closeRedis(restore) })
  await new RedisUserStore(restore).insert(user as NonNullable<typeof user>)
  const refused = await client(b.app, live.jar.clone()).request('POST', '/auth/refresh')
  t.equal(refused.statusCode, 401, 'with the user restored, the refresh is still refused: its session family is gone')
  t.match(b.logs.audits('refresh.failed').at(-1), { reason: 'rejected' })
  t.equal((await client(a.app).request('POST', '/auth/login', { username: 'survivor', password: TEST_PASSWORD })).statusCode, 200, 'logging in again works')

  const liveAccess = live.jar.get(ACCESS)
  t.equal((await client(a.app, live.jar).request('POST', '/auth/logout')).statusCode, 204, 'a logout after the loss')
  await waitFor('B to follow the new log', async () => await accessStatus(b.app, liveAccess), (s) => s === 401)
  t.pass('revocations flow between instances again')
})

test('Redis paused: requests answer 503 within the command timeout instead of hanging, and recover', async (t) => {
  const redis = await startRedis(t)
  const clock = new ManualClock()
  const a = await instance(t, redis.url, clock, { REDIS_COMMAND_TIMEOUT_MS: '500' })
  await addUser(a.app, 'paused')
  const session = await loggedIn(t, a.app, 'paused', TEST_PASSWORD, clock)
  const pid = redis.process?.pid as number
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => { try { process.kill(pid, 'SIGCONT') } catch {} })
  const started = Date.now()
  const response = await client(a.app, session.jar.clone()).request('POST', '/auth/refresh')
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'ERR_STORE_UNAVAILABLE')
  t.ok(Date.now() - started < 5000, 'it did not hang')
  await waitFor('the view to go stale', async () => await accessStatus(a.app, session.jar.get(ACCESS)), (s) => s === 503)
  process.kill(pid, 'SIGCONT')
  await waitFor('recovery', async () => await accessStatus(a.app, session.jar.get(ACCESS)), (s) => s === 200)
  t.equal((await client(a.app, session.jar).request('POST', '/auth/refresh')).statusCode, 200)
})
