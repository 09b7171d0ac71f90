/**
 * Sentinel failover under load: two instances follow a primary through three Sentinels, with
 * REDIS_WAIT_REPLICAS=1 and two replicas. The primary is killed (SIGKILL) while clients refresh and log out.
 *
 * "Acknowledged" means answered 204 (logout) or 200 (refresh): with REDIS_WAIT_REPLICAS=1 the write had reached
 * a replica before the answer left, so the replica the Sentinels promote has it.
 *
 * Shown: nothing but 200, 204 and 503 (no 500, no false reuse alarm); a 503 only for a request sent after the
 * primary died and before a primary could take writes again (plus the reconnection delay, at most a second
 * apart, and the revocation feed's catch-up); service back within the Sentinels' failover time; every
 * acknowledged logout still revoked on every instance, and on an instance started after the failover.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type Test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, type Client } from '../helper.js'
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js'
import { DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS, SENTINEL_NAME, startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel.js'
import { waitFor } from '../helpers/wait-for.js'
import { TEST_PASSWORD } from '../helper.js'

const ACCESS = '__Host-session'
/** After a primary takes writes again: the client reconnects (at most 1 s apart), the feed catches up. */
const RECONNECTION_MS = 2500

interface Instance {
  app: FastifyInstance
  logs: CapturedLogs
}

async function instance (t: Test, set: SentinelSet): Promise<Instance> {
  const logs = captureLogs()
  const app = await buildTestApp(t, {
    env: {
      STORE: 'redis',
      REDIS_SENTINELS: set.sentinels,
      REDIS_SENTINEL_NAME: SENTINEL_NAME,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_MAX_STALENESS_SECONDS: '2',
      RATE_LIMIT_REFRESH_IP_MAX: '1000000',
      RATE_LIMIT_LOGIN_IP_MAX: '1000000',
      RATE_LIMIT_LOGIN_ACCOUNT_MAX: '1000000',
      LOG_LEVEL: 'info'
    },
    logger: logs.logger
  })
  return { app, logs }
}

/** True once the primary the Sentinels name takes a write and a replica confirms it. */
async function primaryTakesWrites (set: SentinelSet): Promise<boolean> {
  let port: number
  try {
    port = await set.primaryPort()
  } catch {
    return false
  }
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 200, commandTimeout: 300 })
  probe.on('error', () => {})
  try {
    await probe.connect()
    await probe.set('failover-probe', String(Date.now()))
    return await probe.wait(1, 100) >= 1
  } catch {
    return false
  } finally {
    probe.disconnect()
  }
}

interface Sample {
  kind: 'refresh' | 'login' | 'logout'
  sentAt: number
  answeredAt: number
  status: number
}

test('Sentinel failover under refresh and logout load', async (t) => {
  const set = await startSentinelSet(t, { replicas: 2 })
  const a = await instance(t, set)
  const b = await instance(t, set)
  const apps = [a.app, b.app]
  for (let i = 0; i < 4; i++) await addUser(a.app, `refresher-${i}`)
  for (let i = 0; i < 2; i++) await addUser(a.app, `leaver-${i}`)

  const samples: Sample[] = []
  const acknowledged: string[] = []
  const load = { running: true }
  const record = (kind: Sample['kind'], sentAt: number, response: LightMyRequestResponse): LightMyRequestResponse => {
    samples.push({ kind, sentAt, answeredAt: Date.now(), status: response.statusCode })
    return response
  }

  async function login (app: FastifyInstance, username: string): Promise<Client | undefined> {
    const c = client(app, new CookieJar())
    const sentAt = Date.now()
    const response = record('login', sentAt, await c.request('POST', '/auth/login', { username, password: TEST_PASSWORD }))
    return response.statusCode === 200 ? c : undefined
  }

  async function refreshLoop (index: number): Promise<void> {
    let c: Client | undefined
    while (c === undefined) c = await login(apps[index % 2] as FastifyInstance, `refresher-${index}`)
    for (let round = 0; load.running; round++) {
      const sentAt = Date.now()
      record('refresh', sentAt, await client(apps[(index + round) % 2] as FastifyInstance, c.jar).request('POST', '/auth/refresh'))
      await sleep(10)
    }
  }

  async function logoutLoop (index: number): Promise<void> {
    for (let round = 0; load.running; round++) {
      const c = await login(apps[(index + round) % 2] as FastifyInstance, `leaver-${index}`)
      if (c === undefined) {
        await sleep(10)
        continue
      }
      const access = c.jar.get(ACCESS) as string
      // Logged out through the other instance; retried until answered (a 503 recorded nothing).
      for (;;) {
        const sentAt = Date.now()
        const response = record('logout', sentAt, await client(apps[(index + round + 1) % 2] as FastifyInstance, c.jar.clone()).request('POST', '/auth/logout'))
        if (response.statusCode === 204) {
          acknowledged.push(access)
          break
        }
        if (!load.running) break
        await sleep(10)
      }
    }
  }

  const loops = [0, 1, 2, 3].map(refreshLoop).concat([0, 1].map(logoutLoop))
  await sleep(1000)
  const oldPrimary = set.primary.port
  const killedAt = Date.now()
  await set.primary.kill()
  await waitFor('the Sentinels to promote a replica', async () => await set.primaryPort(), (port) => port !== oldPrimary, 20_000)
  const promotedAt = Date.now()
  await waitFor('the new primary to take confirmed writes', async () => await primaryTakesWrites(set), (ok) => ok, 20_000)
  const writableAt = Date.now()
  for (const app of apps) await waitFor('/readyz', async () => (await app.inject('/readyz')).body, (s) => s.includes('"ready"'), 20_000)
  const readyAt = Date.now()
  await sleep(Math.max(writableAt + RECONNECTION_MS + 1500 - Date.now(), 0))
  load.running = false
  await Promise.all(loops)

  const count = (kind: Sample['kind'], status: number, from = 0, to = Infinity): number =>
    samples.filter((s) => s.kind === kind && s.status === status && s.sentAt >= from && s.sentAt < to).length
  const unavailable = samples.filter((s) => s.status === 503)
  const lastUnavailable = Math.max(...unavailable.map((s) => s.sentAt), killedAt)
  t.comment(`primary killed; promoted after ${promotedAt - killedAt} ms, confirmed writes after ${writableAt - killedAt} ms, both instances ready after ${readyAt - killedAt} ms; last 503 sent ${lastUnavailable - killedAt} ms after the kill`)
  t.comment(`refresh 200: ${count('refresh', 200)}, 503: ${count('refresh', 503)}; logout 204: ${count('logout', 204)}, 503: ${count('logout', 503)}; login 200: ${count('login', 200)}, 503: ${count('login', 503)}`)

  t.same([...new Set(samples.map((s) => s.status))].filter((s) => ![200, 204, 503].includes(s)), [], 'nothing but 200, 204 and 503: no 500, no 401 from a false reuse alarm')
  t.ok(count('refresh', 200, 0, killedAt) > 0 && count('logout', 204, 0, killedAt) > 0, 'load ran before the kill')
  t.ok(count('refresh', 200, writableAt + RECONNECTION_MS) > 0 && count('logout', 204, writableAt + RECONNECTION_MS) > 0, 'and after the failover')
  t.equal(unavailable.filter((s) => s.answeredAt < killedAt).length, 0, 'no 503 before the primary died (a request in flight at the kill may get one)')
  t.ok(unavailable.length > 0, 'some 503 while no primary took writes')
  t.same(unavailable.filter((s) => s.sentAt > writableAt + RECONNECTION_MS), [], `no 503 for a request sent more than ${RECONNECTION_MS} ms after a primary took writes again`)
  t.ok(readyAt - killedAt <= DOWN_AFTER_MS + FAILOVER_TIMEOUT_MS + RECONNECTION_MS, 'service back within the Sentinels\' failover time')
  t.same([...a.logs.audits('refresh.reuse_detected'), ...b.logs.audits('refresh.reuse_detected')], [], 'no rotation was lost: no reuse alarm')

  t.ok(acknowledged.length > 0, `${acknowledged.length} acknowledged logouts`)
  const c = await instance(t, set)
  for (const app of [a.app, b.app, c.app]) {
    const statuses = await Promise.all(acknowledged.map(async (token) => (await app.inject({ url: '/auth/session', headers: { cookie: `${ACCESS}=${token}` } })).statusCode))
    t.same(statuses.filter((s) => s !== 401), [], app === c.app ? 'an instance started after the failover refuses every acknowledged logout: none was lost' : 'every acknowledged logout stays refused')
  }
})
