/**
 * What REDIS_WAIT_REPLICAS costs: the latency of the store's writes with and without waiting for a replica.
 *
 *   npm run bench:redis-wait -- [--count 2000]
 *
 * A private primary (AOF, appendfsync everysec) and one replica on loopback ports. For each setting, the
 * same sequence through RedisSessionStore: a login (createFamily), a refresh (rotate) and a logout
 * (revokeFamily), one at a time (latency), then 32 sessions at once (throughput). Prints a Markdown table.
 * Loopback has no network delay: on a real network each waiting write adds about one round trip to the
 * replica on top of these figures.
 */
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { newId } from '../src/common/random-id.js'
import { closeRedis, connectRedis } from '../src/stores/redis-client.js'
import { RedisSessionStore } from '../src/stores/redis-session-store.js'
import type { FamilyRecord } from '../src/stores/session-store.js'
import { startRedis } from '../test/helpers/redis-server.js'

const { values } = parseArgs({ options: { count: { type: 'string', default: '2000' } } })
const COUNT = Number(values.count)
const NOW = Math.floor(Date.now() / 1000)
const teardowns: Array<() => unknown> = []

function family (): FamilyRecord {
  return {
    id: newId(),
    user: { id: newId(), username: 'bench', roles: [] },
    authTime: NOW,
    refreshJti: newId(),
    previousRefreshJti: null,
    accessJti: newId(),
    rotatedAt: NOW,
    refreshExpiresAt: NOW + 3600,
    accessExpiresAt: NOW + 900,
    generation: 0,
    userAgent: null,
    clientAddress: null,
    revokedAt: null
  }
}

type Op = 'login' | 'refresh' | 'logout'

/** One session's life; the time of each write in milliseconds. */
async function session (store: RedisSessionStore): Promise<Record<Op, number>> {
  const f = family()
  let start = performance.now()
  await store.createFamily(f, await store.revocationMark())
  const login = performance.now() - start
  start = performance.now()
  await store.rotate({ familyId: f.id, subject: f.user.id, presentedJti: f.refreshJti, now: NOW, graceSeconds: 10, next: { refreshJti: newId(), accessJti: newId(), refreshExpiresAt: NOW + 3600, accessExpiresAt: NOW + 900 } })
  const refresh = performance.now() - start
  start = performance.now()
  await store.revokeFamily(f.id, NOW, f.user.id)
  return { login, refresh, logout: performance.now() - start }
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

try {
  const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }
  const primary = await startRedis(t, { aof: true, appendfsync: 'everysec' })
  await startRedis(t, { args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  const client = await connectRedis({ url: primary.url, commandTimeoutMs: 2000 })
  teardowns.push(async () => { await closeRedis(client) })
  // The replica counts once its first sync is done.
  for (;;) {
    await client.set('bench-wait:probe', '1')
    if (await client.wait(1, 100) >= 1) break
  }
  const rows: string[] = []
  for (const waitReplicas of [0, 1, 0, 1]) {
    const store = new RedisSessionStore({ client, keyPrefix: `bench-wait-${waitReplicas}:`, waitReplicas, waitTimeoutMs: 1000 })
    for (let i = 0; i < 100; i++) await session(store)
    const times: Record<Op, number[]> = { login: [], refresh: [], logout: [] }
    for (let i = 0; i < COUNT; i++) {
      const one = await session(store)
      for (const op of ['login', 'refresh', 'logout'] as const) times[op].push(one[op])
    }
    const started = performance.now()
    let done = 0
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (done < COUNT) {
        done++
        await session(store)
      }
    }))
    const perSecond = (COUNT * 3) / ((performance.now() - started) / 1000)
    const cells = (['login', 'refresh', 'logout'] as const).map((op) => {
      const sorted = times[op].sort((x, y) => x - y)
      return `${percentile(sorted, 50).toFixed(2)} / ${percentile(sorted, 99).toFixed(2)}`
    })
    rows.push(`| ${waitReplicas} | ${cells.join(' | ')} | ${Math.round(perSecond)} |`)
  }
  console.log('| REDIS_WAIT_REPLICAS | login p50 / p99 (ms) | refresh p50 / p99 (ms) | logout p50 / p99 (ms) | writes/s, 32 at once |')
  console.log('|---|---|---|---|---|')
  for (const row of rows) console.log(row)
} finally {
  for (const fn of teardowns.reverse()) await fn()
}
