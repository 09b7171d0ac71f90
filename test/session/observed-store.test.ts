/**
 * The measured store (metrics or tracing on) must offer everything the store it wraps offers: the revocation
 * sync and the plugin look for the optional members on it. A missing `changedByOthers` once made SQLite's
 * cross-process revocations wait for the 1 s poll whenever metrics were on.
 */
import { join } from 'node:path'
import Fastify from 'fastify'
import { test } from 'tap'
import { systemClock } from '../../src/common/clock.js'
import { Denylist } from '../../src/session/denylist.js'
import { observedStore } from '../../src/session/observed-store.js'
import { RevocationSync } from '../../src/session/revocation-sync.js'
import { SessionCounters } from '../../src/session/session-counters.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'
import type { SessionStore } from '../../src/stores/session-store.js'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'
import { tempDir } from '../helper.js'
import { startSqliteRevoker } from '../helpers/sqlite-revoker.js'
import { waitFor } from '../helpers/wait-for.js'

test('the measured store has every method of each built-in store', async (t) => {
  for (const Store of [MemorySessionStore, SqliteSessionStore, RedisSessionStore]) {
    // Only the methods are looked at, none is called: an instance without a connection does.
    const store = Object.create(Store.prototype) as SessionStore
    const observed = observedStore(store, { name: 'x', counters: new SessionCounters(), observe: () => {} })
    const methods = Object.getOwnPropertyNames(Store.prototype).filter((name) => name !== 'constructor')
    t.ok(methods.length >= 12, `${Store.name}: ${methods.length} methods`)
    for (const name of methods) {
      t.equal(typeof (observed as unknown as Record<string, unknown>)[name], 'function', `${Store.name}.${name} is passed on`)
    }
  }
})

test('with metrics on, a revocation by another process on the same SQLite file still arrives by the 10 ms check', async (t) => {
  const path = join(tempDir(t), 'sessions.db')
  const raw = new SqliteSessionStore(openSqliteDatabase({ path }))
  t.teardown(async () => await raw.close())
  const store = observedStore(raw, { name: 'sqlite', counters: new SessionCounters(), observe: () => {} })
  const denylist = new Denylist()
  // The poll is an hour away: only the change check can bring the revocation in time.
  const sync = new RevocationSync({ store, denylist, clock: systemClock, log: Fastify().log, leeway: 30, pollIntervalMs: 3_600_000, purgeIntervalMs: 3_600_000 })
  await sync.start()
  t.teardown(async () => await sync.stop())
  const other = await startSqliteRevoker(t, path)
  const id = 'measured-store-000000'.padEnd(22, '0')
  await other.revoke(id)
  await waitFor('the revocation to reach this process', () => denylist.isRevoked(id, 'f', 's', 0), (revoked) => revoked, 5000, 2)
  t.pass('enforced')
  await other.stop()
})
