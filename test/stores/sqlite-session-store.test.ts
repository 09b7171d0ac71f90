import { statSync } from 'node:fs'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { newDatabase, openSqliteDatabase, SqliteNativeModuleError } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'
import { tempDir } from '../helper.js'
import type { FamilyRecord, SessionUser } from '../../src/stores/session-store.js'
import { create, family, NOW, rotation, storeContract } from './contract.js'

test('SQLite store contract (a real database file)', async (t) => {
  storeContract(t, {
    open: async (t) => {
      const store = new SqliteSessionStore(openSqliteDatabase({ path: join(tempDir(t), 'sessions.db') }))
      t.teardown(async () => await store.close())
      return store
    },
    openPair: async (t) => {
      const path = join(tempDir(t), 'sessions.db')
      const a = new SqliteSessionStore(openSqliteDatabase({ path }))
      const b = new SqliteSessionStore(openSqliteDatabase({ path }))
      t.teardown(async () => { await a.close(); await b.close() })
      return [a, b]
    }
  })
})

test('the database file is created readable by its owner only, and reopened with its data', async (t) => {
  const path = join(tempDir(t), 'nested', 'sessions.db')
  const first = new SqliteSessionStore(openSqliteDatabase({ path }))
  await first.revokeToken({ kind: 'token', id: 'AAAAAAAAAAAAAAAAAAAAAA', expiresAt: 2_000_000_000 })
  await first.close()
  await first.close()
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(join(path, '..')).mode & 0o777, 0o700)
  const second = new SqliteSessionStore(openSqliteDatabase({ path, synchronous: 'FULL' }))
  t.teardown(async () => await second.close())
  t.equal((await second.loadRevocations(0)).revocations.length, 1, 'the migration ran once; the data is there')
})

test('newDatabase passes on better-sqlite3\'s errors other than a missing native module as they are', async (t) => {
  // The missing module itself is met in child processes: test/service/sqlite-unbuilt.test.ts.
  const missing = join(tempDir(t), 'no-such-dir', 'x.db')
  let thrown: unknown
  try {
    newDatabase(missing, { fileMustExist: true })
  } catch (error) {
    thrown = error
  }
  t.match(thrown, { name: 'TypeError', message: /directory does not exist/ })
  t.notOk(thrown instanceof SqliteNativeModuleError)
  const db = newDatabase(':memory:')
  t.equal(db.pragma('user_version', { simple: true }), 0, 'and opens what it can')
  db.close()
})

/** A store on a fresh file, with its connection (the tests below close it under the store). */
function openStore (t: Test): { path: string, db: ReturnType<typeof openSqliteDatabase>, store: SqliteSessionStore } {
  const path = join(tempDir(t), 'sessions.db')
  const db = openSqliteDatabase({ path })
  const store = new SqliteSessionStore(db)
  t.teardown(async () => await store.close())
  return { path, db, store }
}

test('rotations asked for together are committed by one transaction, each with its own answer', async (t) => {
  const { path, store } = openStore(t)
  const families = Array.from({ length: 10 }, () => family())
  for (const f of families) await create(store, f)
  const walSize = (): number => statSync(`${path}-wal`).size
  const before = walSize()
  // Ten rotations asked for in one turn of the event loop, as a loaded server's requests are.
  const together = await Promise.all(families.map(async (f) => await store.rotate(rotation(f, f.refreshJti, NOW + 1))))
  t.same(together.map((r) => r.outcome), Array(10).fill('rotated'))
  const grouped = walSize() - before
  // The same ten families rotated again, one after the other: ten commits.
  for (const [i, f] of families.entries()) {
    const current = together[i]?.outcome === 'rotated' ? together[i].family : f
    t.equal((await store.rotate(rotation(f, current.refreshJti, NOW + 2))).outcome, 'rotated')
  }
  const oneByOne = walSize() - before - grouped
  // Ten small rows share their pages: one commit writes each changed page to the WAL once, ten commits ten times.
  t.ok(grouped > 0 && grouped * 4 < oneByOne, `the group appended ${grouped} bytes to the WAL, one by one ${oneByOne}`)
})

test('in a group, a rotation that fails is refused alone: the others are committed', async (t) => {
  const { path, store } = openStore(t)
  const [a, b, c] = [family(), family(), family()]
  for (const f of [a, b, c]) await create(store, f)
  // A user the store cannot serialise (a BigInt claim) makes that one rotation throw inside the group.
  const unwritable = { ...b.user, claims: { big: 1n } } as unknown as SessionUser
  const results = await Promise.allSettled([
    store.rotate(rotation(a, a.refreshJti, NOW + 1)),
    store.rotate(rotation(b, b.refreshJti, NOW + 1, { user: unwritable })),
    store.rotate(rotation(c, newIdLike(c), NOW + 1))
  ])
  t.match(results[0], { status: 'fulfilled', value: { outcome: 'rotated' } })
  t.match(results[1], { status: 'rejected', reason: { name: 'TypeError' } })
  t.match(results[2], { status: 'fulfilled', value: { outcome: 'reused' } }, 'an unknown token of a known family is reuse')
  await store.close()
  const reopened = new SqliteSessionStore(openSqliteDatabase({ path }))
  t.teardown(async () => await reopened.close())
  t.equal((await reopened.rotate(rotation(a, a.refreshJti, NOW + 2))).outcome, 'replayed', 'a\'s rotation was committed')
  t.equal((await reopened.rotate(rotation(b, b.refreshJti, NOW + 2))).outcome, 'rotated', 'b\'s was not: its token is still current')
  t.ok((await reopened.loadRevocations(NOW)).revocations.some((r) => r.kind === 'family' && r.id === c.id), 'c\'s revocation was committed')
})

test('a group whose transaction fails refuses every rotation of it and writes none', async (t) => {
  const { path, db, store } = openStore(t)
  const [a, b] = [family(), family()]
  for (const f of [a, b]) await create(store, f)
  const pending = [store.rotate(rotation(a, a.refreshJti, NOW + 1)), store.rotate(rotation(b, b.refreshJti, NOW + 1))]
  // The connection goes before the group runs: the transaction cannot begin.
  db.close()
  const results = await Promise.allSettled(pending)
  t.same(results.map((r) => r.status), ['rejected', 'rejected'])
  t.match(results[0], { reason: { message: /not open/ } })
  const reopened = new SqliteSessionStore(openSqliteDatabase({ path }))
  t.teardown(async () => await reopened.close())
  for (const f of [a, b]) t.equal((await reopened.rotate(rotation(f, f.refreshJti, NOW + 2))).outcome, 'rotated', 'nothing was written')
})

test('closing the store commits the rotations already asked for', async (t) => {
  const { path, store } = openStore(t)
  const [a, b] = [family(), family()]
  for (const f of [a, b]) await create(store, f)
  const pending = [store.rotate(rotation(a, a.refreshJti, NOW + 1)), store.rotate(rotation(b, b.refreshJti, NOW + 1))]
  await store.close()
  t.same((await Promise.all(pending)).map((r) => r.outcome), ['rotated', 'rotated'])
  const reopened = new SqliteSessionStore(openSqliteDatabase({ path }))
  t.teardown(async () => await reopened.close())
  for (const f of [a, b]) t.equal((await reopened.rotate(rotation(f, f.refreshJti, NOW + 2))).outcome, 'replayed', 'both were written')
})

/** A refresh token id the family never had. */
function newIdLike (f: FamilyRecord): string {
  return f.refreshJti.split('').reverse().join('')
}
