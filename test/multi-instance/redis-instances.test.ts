/**
 * Two instances of the service over one real redis-server, as behind a load balancer: rotations and
 * revocations made on one take effect on the other, and users are shared.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Readable } from 'node:stream'
import { test, type Test } from 'tap'
import { runUsersCli } from '../../src/service/cli/users.js'
import { addUser, buildTestApp, client, CookieJar, loggedIn, ManualClock, parseSetCookie, setCookieHeaders, TEST_PASSWORD, TEST_SECRET } from '../helper.js'
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'
import { joseOpen } from '../tokens/token-kit.js'

const ACCESS = '__Host-session'
const REFRESH = '__Secure-refresh'

interface Instance {
  app: FastifyInstance
  logs: CapturedLogs
}

async function instances (t: Test, redis: RedisServer, clock: ManualClock, count = 2): Promise<Instance[]> {
  const started: Instance[] = []
  for (let i = 0; i < count; i++) {
    const logs = captureLogs()
    const app = await buildTestApp(t, { env: { STORE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'info' }, clock: clock.now, logger: logs.logger })
    started.push({ app, logs })
  }
  return started
}

async function sessionWith (app: FastifyInstance, cookie: string, value: string | undefined): Promise<number> {
  const response = await app.inject({ url: '/auth/session', headers: { cookie: `${cookie}=${value ?? ''}` } })
  return response.statusCode
}

function setCookie (response: LightMyRequestResponse, name: string): string | undefined {
  return setCookieHeaders(response).map(parseSetCookie).find((c) => c.name === name)?.value
}

async function refreshJti (token: string): Promise<string> {
  return String((await joseOpen(token, 'refresh')).claims.jti)
}

test('two instances over one Redis', async (t) => {
  const redis = await startRedis(t)

  t.test('a logout on A is enforced on B', async (t) => {
    const clock = new ManualClock()
    const [a, b] = await instances(t, redis, clock) as [Instance, Instance]
    await addUser(a.app, 'logout-user')
    const onA = await loggedIn(t, a.app, 'logout-user', TEST_PASSWORD, clock)
    const onB = client(b.app, onA.jar)
    const access = onA.jar.get(ACCESS)
    t.equal((await onB.request('GET', '/auth/session')).statusCode, 200, 'B accepts the session A opened')
    t.equal((await onA.request('POST', '/auth/logout')).statusCode, 204)
    await waitFor('B to refuse the logged-out access token', async () => await sessionWith(b.app, ACCESS, access), (s) => s === 401)
    t.pass('B refuses it')
    t.equal(await sessionWith(a.app, ACCESS, access), 401, 'A refuses it too')
  })

  t.test('ending one session on A (DELETE /auth/sessions/:id) is enforced on B', async (t) => {
    const clock = new ManualClock()
    const [a, b] = await instances(t, redis, clock) as [Instance, Instance]
    await addUser(a.app, 'end-user')
    const phone = await loggedIn(t, b.app, 'end-user', TEST_PASSWORD, clock)
    const laptop = await loggedIn(t, a.app, 'end-user', TEST_PASSWORD, clock)
    const listed = await laptop.request('GET', '/auth/sessions')
    t.equal(listed.json().sessions.length, 2, 'A lists both sessions, one opened on B')
    const phoneId = (await phone.request('GET', '/auth/session')).json().session.id
    t.equal((await laptop.request('DELETE', `/auth/sessions/${phoneId as string}`)).statusCode, 204)
    await waitFor('B to refuse the ended session', async () => (await phone.request('GET', '/auth/session')).statusCode, (s) => s === 401)
    t.equal((await client(a.app, phone.jar).request('POST', '/auth/refresh')).statusCode, 401, 'its refresh token is dead too')
    t.equal((await laptop.request('GET', '/auth/session')).statusCode, 200, 'the other session lives on')
  })

  t.test('ten parallel refreshes with one token, split over both: one successor, one chain, no alarm', async (t) => {
    const clock = new ManualClock()
    const [a, b] = await instances(t, redis, clock) as [Instance, Instance]
    await addUser(a.app, 'tabs-user')
    const tabs = await loggedIn(t, a.app, 'tabs-user', TEST_PASSWORD, clock)
    const presented = tabs.jar.get(REFRESH) as string
    const responses = await Promise.all(Array.from({ length: 10 }, async (_, i) => await (i % 2 === 0 ? a : b).app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { cookie: `${REFRESH}=${presented}` }
    })))
    t.same(responses.map((r) => r.statusCode), Array(10).fill(200), 'all ten answered 200')
    const successors = new Set(await Promise.all(responses.map(async (r) => await refreshJti(setCookie(r, REFRESH) as string))))
    t.equal(successors.size, 1, 'every answer carries the same successor refresh token id')
    t.not([...successors][0], await refreshJti(presented), 'and it is a new one')

    const audits = [...a.logs.audits('refresh.succeeded'), ...b.logs.audits('refresh.succeeded')]
    t.equal(audits.filter((l) => l['replayed'] === false).length, 1, 'one rotation')
    t.equal(audits.filter((l) => l['replayed'] === true).length, 9, 'nine replays of it')
    t.same([...a.logs.audits('refresh.reuse_detected'), ...b.logs.audits('refresh.reuse_detected')], [], 'no reuse alarm')

    const next = client(a.app, new CookieJar(clock.now)).jar.store(responses[3] as LightMyRequestResponse)
    const onB = client(b.app, next)
    const sessions = await onB.request('GET', '/auth/sessions')
    t.equal(sessions.json().sessions.length, 1, 'one live chain')
    t.equal((await onB.request('POST', '/auth/refresh')).statusCode, 200, 'the successor rotates on the other instance')
  })

  t.test('reuse of a stale refresh token on B revokes the family on A as well', async (t) => {
    const clock = new ManualClock()
    const [a, b] = await instances(t, redis, clock) as [Instance, Instance]
    await addUser(a.app, 'reuse-user')
    const victim = await loggedIn(t, a.app, 'reuse-user', TEST_PASSWORD, clock)
    const stolen = victim.jar.get(REFRESH)
    t.equal((await victim.request('POST', '/auth/refresh')).statusCode, 200, 'the victim rotates on A')
    clock.advance(11)
    const replay = await b.app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: `${REFRESH}=${stolen as string}` } })
    t.equal(replay.statusCode, 401, 'the stale token is refused on B')
    t.equal(b.logs.audits('refresh.reuse_detected').length, 1, 'B raises the alarm')
    await waitFor('A to refuse the victim\'s access token', async () => (await victim.request('GET', '/auth/session')).statusCode, (s) => s === 401)
    t.equal((await victim.request('POST', '/auth/refresh')).statusCode, 401, 'the current refresh token died with its family')
  })

  t.test('logout-all on B ends the user\'s sessions on both instances', async (t) => {
    const clock = new ManualClock()
    const [a, b] = await instances(t, redis, clock) as [Instance, Instance]
    await addUser(a.app, 'all-user')
    await addUser(a.app, 'bystander')
    const first = await loggedIn(t, a.app, 'all-user', TEST_PASSWORD, clock)
    const second = await loggedIn(t, b.app, 'all-user', TEST_PASSWORD, clock)
    const other = await loggedIn(t, a.app, 'bystander', TEST_PASSWORD, clock)
    t.equal((await second.request('POST', '/auth/logout-all')).statusCode, 204)
    for (const [name, app] of [['A', a.app], ['B', b.app]] as const) {
      await waitFor(`${name} to refuse the first session`, async () => await sessionWith(app, ACCESS, first.jar.get(ACCESS)), (s) => s === 401)
    }
    t.equal((await first.request('POST', '/auth/refresh')).statusCode, 401, 'no refresh either')
    t.equal((await client(b.app, other.jar).request('GET', '/auth/session')).statusCode, 200, 'another user is untouched')
  })

  t.test('users are shared: added on A, logging in on B; a password change ends sessions everywhere', async (t) => {
    const clock = new ManualClock()
    const [a, b] = await instances(t, redis, clock) as [Instance, Instance]
    await addUser(a.app, 'shared-user')
    const onB = await loggedIn(t, b.app, 'shared-user', TEST_PASSWORD, clock)
    await a.app.users.setPasswordOf('shared-user', 'a brand new passphrase')
    await waitFor('B to end the session', async () => (await onB.request('GET', '/auth/session')).statusCode, (s) => s === 401)
    t.pass('the password change on A ended the session opened on B')
  })

  t.test('the users CLI works against Redis and reaches running instances', async (t) => {
    const clock = new ManualClock()
    const [a] = await instances(t, redis, clock, 1) as [Instance]
    const env = { STORE: 'redis', REDIS_URL: redis.url, SESSION_SECRET: TEST_SECRET, NODE_ENV: 'test', LOG_LEVEL: 'silent' }
    const out: string[] = []
    const io = (stdin: string[]) => ({ stdin: Readable.from(stdin), out: (line: string) => { out.push(line) }, log: { write: () => {} }, env })
    t.equal(await runUsersCli(['add', 'cli-user', '--role', 'admin', '--password-stdin'], io([TEST_PASSWORD + '\n'])), 0)
    t.match(out.at(-1), /^added cli-user \(id [A-Za-z0-9_-]+, roles admin\)$/)
    const session = await loggedIn(t, a.app, 'cli-user', TEST_PASSWORD, clock)
    t.same((await session.request('GET', '/auth/session')).json().user.roles, ['admin'], 'the running instance sees the user the CLI added')
    t.equal(await runUsersCli(['disable', 'cli-user'], io([])), 0)
    await waitFor('the instance to end the disabled user\'s session', async () => (await session.request('GET', '/auth/session')).statusCode, (s) => s === 401)
    t.equal(await runUsersCli(['list'], io([])), 0)
    t.match(out.at(-1), /^cli-user\t\S+\tdisabled\tadmin$/)
  })

  t.test('login rate limits count failures from every instance together', async (t) => {
    const clock = new ManualClock()
    const env = { STORE: 'redis', REDIS_URL: redis.url, RATE_LIMIT_LOGIN_ACCOUNT_MAX: '3' }
    const a = await buildTestApp(t, { env, clock: clock.now })
    const b = await buildTestApp(t, { env, clock: clock.now })
    await addUser(a, 'limited-user')
    const attempt = async (app: FastifyInstance): Promise<number> =>
      (await client(app).request('POST', '/auth/login', { username: 'limited-user', password: 'wrong password!' })).statusCode
    t.same([await attempt(a), await attempt(b), await attempt(a)], [401, 401, 401], 'three failures, spread over both')
    const refused = await client(b).request('POST', '/auth/login', { username: 'limited-user', password: TEST_PASSWORD })
    t.equal(refused.statusCode, 429, 'the other instance knows the account is limited')
    t.equal(refused.json().code, 'ERR_RATE_LIMITED')
  })

  t.test('/readyz reports the push feed on every instance', async (t) => {
    const [a] = await instances(t, redis, new ManualClock(), 1) as [Instance]
    const ready = await a.app.inject('/readyz')
    t.equal(ready.statusCode, 200)
    t.match(ready.json(), { status: 'ready', store: 'ok', revocations: { mode: 'push', confirmedMsAgo: Number, denylistSize: Number, logReloads: 0 } })
    t.equal(ready.headers['cache-control'], 'no-store')
  })
})
