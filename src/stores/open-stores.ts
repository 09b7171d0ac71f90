/** Opens the configured backend: sessions and the built-in user directory live in the same place. */
import { join } from 'node:path'
import { MemoryUserStore, SqliteUserStore, type UserStore } from '../users/user-store.js'
import { MemorySessionStore } from './memory-session-store.js'
import type { SessionStore } from './session-store.js'
import { openSqliteDatabase } from './sqlite-database.js'
import { SqliteSessionStore } from './sqlite-session-store.js'

export interface StoreConfig {
  STORE: 'sqlite' | 'memory'
  DATA_DIR: string
}

export interface OpenStores {
  sessions: SessionStore
  users: UserStore
  /** Where the data lives, for the startup log line. */
  location: string
  close: () => Promise<void>
}

export const SQLITE_FILE = 'sessions.db'

export async function openStores (config: StoreConfig): Promise<OpenStores> {
  if (config.STORE === 'memory') {
    const sessions = new MemorySessionStore()
    return { sessions, users: new MemoryUserStore(), location: 'memory (lost on restart)', close: async () => await sessions.close() }
  }
  const path = join(config.DATA_DIR, SQLITE_FILE)
  const db = openSqliteDatabase({ path })
  const sessions = new SqliteSessionStore(db)
  return { sessions, users: new SqliteUserStore(db), location: path, close: async () => await sessions.close() }
}
