/** Opens the configured backend: sessions and the built-in user directory live in the same place. */
import { join } from 'node:path'
import { MemoryUserStore, type UserStore } from '../users/user-store.js'
import { SqliteUserStore } from '../users/sqlite-user-store.js'
import { RedisUserStore } from '../users/redis-user-store.js'
import { MemorySessionStore } from '../stores/memory-session-store.js'
import { closeRedis, connectRedis, redisDurabilityWarnings, redisLocation, type Redis } from '../stores/redis-client.js'
import { RedisSessionStore } from '../stores/redis-session-store.js'
import type { SessionStore } from '../stores/session-store.js'
import { openSqliteDatabase } from '../stores/sqlite-database.js'
import { SqliteSessionStore } from '../stores/sqlite-session-store.js'

export interface StoreConfig {
  STORE: 'sqlite' | 'memory' | 'redis'
  DATA_DIR: string
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
  REDIS_COMMAND_TIMEOUT_MS: number
}

export interface OpenStores {
  sessions: SessionStore
  users: UserStore
  /** Where the data lives, for the startup log line (never a password). */
  location: string
  /** Problems with the backend's settings worth a warning at startup. */
  warnings: string[]
  /**
   * With STORE=redis, the connected client (fail-fast options: no offline queue, command timeout), for other
   * plugins that share counters through the same Redis, such as @fastify/rate-limit's `redis` option. Closed
   * by `close()`.
   */
  redis?: Redis
  close: () => Promise<void>
}

export const SQLITE_FILE = 'sessions.db'

export async function openStores (config: StoreConfig): Promise<OpenStores> {
  if (config.STORE === 'memory') {
    const sessions = new MemorySessionStore()
    return { sessions, users: new MemoryUserStore(), location: 'memory (lost on restart)', warnings: [], close: async () => await sessions.close() }
  }
  if (config.STORE === 'redis') {
    const redis = await connectRedis({ url: config.REDIS_URL, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS })
    const sessions = new RedisSessionStore({ client: redis, keyPrefix: config.REDIS_KEY_PREFIX })
    return {
      sessions,
      users: new RedisUserStore(redis, config.REDIS_KEY_PREFIX),
      location: `${redisLocation(config.REDIS_URL)} (keys ${config.REDIS_KEY_PREFIX}*)`,
      warnings: await redisDurabilityWarnings(redis),
      redis,
      close: async () => {
        await sessions.close()
        await closeRedis(redis)
      }
    }
  }
  const path = join(config.DATA_DIR, SQLITE_FILE)
  const db = openSqliteDatabase({ path })
  const sessions = new SqliteSessionStore(db)
  return { sessions, users: new SqliteUserStore(db), location: path, warnings: [], close: async () => await sessions.close() }
}
