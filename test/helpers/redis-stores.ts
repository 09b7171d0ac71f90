/** Redis clients and stores for tests, over a private redis-server (redis-server.ts), closed at teardown. */
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { closeRedis, connectRedis, type Redis } from '../../src/stores/redis-client.js'
import { RedisSessionStore, type RedisSessionStoreOptions } from '../../src/stores/redis-session-store.js'

/** A connected client with the service's options, closed when the test ends. */
export async function redisClient (t: Test, url: string, commandTimeoutMs = 1000): Promise<Redis> {
  const client = await connectRedis({ url, commandTimeoutMs, connectionName: 'test' })
  t.teardown(async () => { await closeRedis(client) })
  return client
}

/** A key prefix no other test uses: a fresh, empty store on a shared server. */
export function uniquePrefix (): string {
  return `test-${randomBytes(6).toString('hex')}:`
}

/** A store over its own client, both closed when the test ends. */
export async function redisStore (t: Test, url: string, options: Partial<RedisSessionStoreOptions> = {}): Promise<RedisSessionStore> {
  const client = await redisClient(t, url)
  const store = new RedisSessionStore({ client, ...options })
  t.teardown(async () => { await store.close() })
  return store
}
