import { join } from 'node:path'
import { test } from 'tap'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
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
