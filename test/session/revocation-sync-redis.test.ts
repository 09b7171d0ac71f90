/**
 * The revocation sync over a real redis-server, idle: how far behind its view reads (`confirmedMsAgo`, the
 * `/readyz` field and the `stateless_session_revocation_sync_lag_seconds` gauge) while nothing happens.
 */
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { Denylist } from '../../src/session/denylist.js'
import { RevocationSync } from '../../src/session/revocation-sync.js'
import { ManualClock } from '../helper.js'
import { startRedis } from '../helpers/redis-server.js'
import { redisStore, uniquePrefix } from '../helpers/redis-stores.js'

test('Redis push feed, idle: the view is confirmed as each 1 s read returns, so the lag stays about a second at most', async (t) => {
  const redis = await startRedis(t)
  const store = await redisStore(t, redis.url, { keyPrefix: uniquePrefix() })
  const clock = new ManualClock()
  const sync = new RevocationSync({ store, denylist: new Denylist(), clock: clock.now, log: Fastify().log, leeway: 30, pollIntervalMs: 1000, purgeIntervalMs: 3_600_000, maxStalenessMs: 5000 })
  await sync.start()
  t.teardown(async () => { await sync.stop() })
  const lags: number[] = []
  const until = Date.now() + 3500
  while (Date.now() < until) {
    lags.push(sync.status().confirmedMsAgo)
    await sleep(20)
  }
  const max = Math.max(...lags)
  // Confirmed as of each read's start, it would read up to two blocks (about 2000 ms) just before each return.
  t.ok(max >= 900, `the lag grows through each 1 s block (max ${max} ms)`)
  t.ok(max < 1400, `and drops as each read returns: max ${max} ms over ${lags.length} readings`)
  t.equal(sync.stale, false)
})
