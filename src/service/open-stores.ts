/** Opens the configured backend: sessions and the built-in user directory live in the same place. */
import { join } from 'node:path'
import { MemoryUserStore, type UserStore } from '../users/user-store.js'
import { SqliteUserStore } from '../users/sqlite-user-store.js'
import { RedisUserStore } from '../users/redis-user-store.js'
import { MemorySessionStore } from '../stores/memory-session-store.js'
import { InvalidOptionError } from '../common/errors.js'
import { closeRedis, connectRedis, parseRedisAddress, redisConfigLocation, redisDurabilityWarnings, type RedisAddress, type RedisClientConfig, type RedisConnection } from '../stores/redis-client.js'
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
  /** Sentinel, Cluster and WAIT settings: absent means one server, no WAIT. */
  REDIS_SENTINELS?: string[]
  REDIS_SENTINEL_NAME?: string
  REDIS_SENTINEL_PASSWORD?: string
  REDIS_CLUSTER_NODES?: string[]
  REDIS_WAIT_REPLICAS?: number
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
  redis?: RedisConnection
  close: () => Promise<void>
}

export const SQLITE_FILE = 'sessions.db'

/** A comma-separated `host:port` list from the environment; empty entries ignored. */
function addresses (name: string, list: string[] = []): RedisAddress[] | undefined {
  const given = list.map((a) => a.trim()).filter((a) => a !== '')
  if (given.length === 0) return undefined
  return given.map((text) => {
    try {
      return parseRedisAddress(text)
    } catch {
      throw new InvalidOptionError(`${name}: "${text}" is not host:port (comma-separated list, e.g. 10.0.0.1:26379,10.0.0.2:26379)`)
    }
  })
}

/** How to reach Redis: one server (REDIS_URL), Sentinels (REDIS_SENTINELS) or a cluster (REDIS_CLUSTER_NODES). */
export function redisClientConfig (config: StoreConfig): RedisClientConfig {
  const sentinels = addresses('REDIS_SENTINELS', config.REDIS_SENTINELS)
  const clusterNodes = addresses('REDIS_CLUSTER_NODES', config.REDIS_CLUSTER_NODES)
  if (sentinels !== undefined && clusterNodes !== undefined) {
    throw new InvalidOptionError('REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: a Redis Cluster does its own failover, set only REDIS_CLUSTER_NODES')
  }
  // Sentinel settings without Sentinels would be ignored in silence: a typo in REDIS_SENTINELS' name, say.
  if (sentinels === undefined && (config.REDIS_SENTINEL_PASSWORD ?? '') !== '') {
    throw new InvalidOptionError('REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not: set REDIS_SENTINELS (host:port,...) or remove REDIS_SENTINEL_PASSWORD')
  }
  const base = { url: config.REDIS_URL, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS }
  if (sentinels !== undefined) return { ...base, sentinels, sentinelName: config.REDIS_SENTINEL_NAME ?? 'mymaster', sentinelPassword: config.REDIS_SENTINEL_PASSWORD ?? '' }
  if (clusterNodes !== undefined) return { ...base, clusterNodes }
  return base
}

export async function openStores (config: StoreConfig): Promise<OpenStores> {
  if (config.STORE === 'memory') {
    const sessions = new MemorySessionStore()
    return { sessions, users: new MemoryUserStore(), location: 'memory (lost on restart)', warnings: [], close: async () => await sessions.close() }
  }
  if (config.STORE === 'redis') {
    const clientConfig = redisClientConfig(config)
    const redis = await connectRedis(clientConfig)
    const sessions = new RedisSessionStore({
      client: redis,
      keyPrefix: config.REDIS_KEY_PREFIX,
      waitReplicas: config.REDIS_WAIT_REPLICAS ?? 0,
      waitTimeoutMs: Math.floor(config.REDIS_COMMAND_TIMEOUT_MS / 2)
    })
    return {
      sessions,
      users: new RedisUserStore(redis, config.REDIS_KEY_PREFIX),
      location: `${redisConfigLocation(clientConfig)} (keys ${config.REDIS_KEY_PREFIX}*)`,
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
