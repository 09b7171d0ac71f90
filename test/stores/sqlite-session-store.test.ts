import { statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { newDatabase, openSqliteDatabase, SqliteNativeModuleError } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'
import { tempDir } from '../helper.js'
import { storeContract } from './contract.js'

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
