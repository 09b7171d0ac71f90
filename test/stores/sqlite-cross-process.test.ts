/**
 * Revocations written by another process on the same SQLite file (a worker, the users CLI) reach this
 * process's denylist through the cheap `PRAGMA data_version` check, not the slow poll: the poll here is set to
 * an hour, so only the check can pick them up.
 */
import { join } from 'node:path'
import Fastify from 'fastify'
import { test } from 'tap'
import { systemClock } from '../../src/common/clock.js'
import { Denylist } from '../../src/session/denylist.js'
import { RevocationSync } from '../../src/session/revocation-sync.js'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'
import { tempDir } from '../helper.js'
import { startSqliteRevoker } from '../helpers/sqlite-revoker.js'
import { waitFor } from '../helpers/wait-for.js'

test('changedByOthers: true at first and after another connection commits, never for its own commits', async (t) => {
  const path = join(tempDir(t), 'sessions.db')
  const a = new SqliteSessionStore(openSqliteDatabase({ path }))
  const b = new SqliteSessionStore(openSqliteDatabase({ path }))
  t.teardown(async () => { await a.close(); await b.close() })
  t.equal(a.changedByOthers(), true, 'first call')
  t.equal(a.changedByOthers(), false, 'nothing since')
  await a.revokeToken({ kind: 'token', id: 'own-commit-00000000000', expiresAt: 2_000_000_000 })
  t.equal(a.changedByOthers(), false, 'its own commit')
  await b.revokeToken({ kind: 'token', id: 'other-commit-000000000', expiresAt: 2_000_000_000 })
  t.equal(a.changedByOthers(), true, 'another connection committed')
  t.equal(a.changedByOthers(), false, 'answered once')
})

test('a revocation by another process on the same file reaches the denylist without waiting for the poll', async (t) => {
  const path = join(tempDir(t), 'sessions.db')
  const store = new SqliteSessionStore(openSqliteDatabase({ path }))
  t.teardown(async () => await store.close())
  const denylist = new Denylist()
  const sync = new RevocationSync({ store, denylist, clock: systemClock, log: Fastify().log, leeway: 30, pollIntervalMs: 3_600_000, purgeIntervalMs: 3_600_000 })
  await sync.start()
  t.teardown(async () => await sync.stop())

  const other = await startSqliteRevoker(t, path)
  for (let i = 0; i < 5; i++) {
    const id = `other-process-${i}`.padEnd(22, '0')
    t.equal(denylist.isRevoked(id, 'f', 's', 0), false)
    await other.revoke(id)
    await waitFor(`revocation ${i} to reach this process`, () => denylist.isRevoked(id, 'f', 's', 0), (revoked) => revoked, 5000, 2)
    t.pass(`revocation ${i} enforced`)
  }
  await other.stop()
})
