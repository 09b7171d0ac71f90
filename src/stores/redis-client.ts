/**
 * The Redis connection (ioredis) and what every Redis-backed store shares: fail-fast client options, Lua
 * scripts run by their SHA, a check of the server's durability settings, and the classification of the
 * client's errors as "store unavailable".
 */
import { createHash } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { StoreConnectError } from '../common/errors.js'

export type { Redis } from 'ioredis'

export interface RedisClientConfig {
  url: string
  /** A command without an answer after this long fails (and the request answers 503). */
  commandTimeoutMs: number
  /** Shown by CLIENT LIST, to tell the service's connections apart. */
  connectionName?: string
}

/**
 * Fail fast while Redis is away: no offline queue (a command sent while disconnected fails at once), pending
 * commands are failed on the first disconnect and never re-sent by the client (a re-sent rotation could land
 * after the caller was told it failed), and every command has a deadline. Reconnection itself never stops:
 * at most one second apart, so an instance is back within about a second of Redis.
 */
export function redisClientOptions (config: RedisClientConfig): Omit<RedisOptions, 'replyMapping'> {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: Math.max(config.commandTimeoutMs, 1000),
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 5), 1000),
    // After a failover, an endpoint may still lead to the old primary, now a read-only replica: reconnect
    // (to the endpoint's new target) rather than keep writing to it. The failed command is not re-sent.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
    // RESP2 replies keep the shapes this code parses identical on every server version.
    protocol: 2,
    connectionName: config.connectionName ?? 'stateless-session'
  }
}

/** Where a Redis URL points, without its credentials: for log lines and error messages. */
export function redisLocation (url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    return '(unparsable REDIS_URL)'
  }
}

/** A connected client; rejects with StoreConnectError (and leaves nothing running) when Redis cannot be reached. */
export async function connectRedis (config: RedisClientConfig): Promise<Redis> {
  const client = new Redis(config.url, redisClientOptions(config))
  // ioredis reports connection errors as events too; the state they describe is handled where commands fail.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (cause) {
    client.disconnect()
    throw new StoreConnectError(redisLocation(config.url), (cause as Error).message, { cause })
  }
  return client
}

/** Closes politely when connected (pending replies arrive first), at once otherwise. Never rejects. */
export async function closeRedis (client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit()
      return
    } catch {}
  }
  client.disconnect()
}

const UNAVAILABLE_MESSAGES = [
  "Stream isn't writeable",
  'Connection is closed',
  'Command timed out',
  'Reached the max retries per request limit'
]
const UNAVAILABLE_REPLIES = /^(LOADING|READONLY|MASTERDOWN|MISCONF|OOM|BUSY|NOREPLICAS|TRYAGAIN|CLUSTERDOWN) /

/**
 * True for the errors ioredis raises when Redis cannot serve a command right now (disconnected, timed out,
 * loading, read-only replica after a failover, out of memory): answered 503, never 500.
 */
export function isRedisUnavailableError (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (UNAVAILABLE_MESSAGES.some((m) => error.message.startsWith(m))) return true
  return error.name === 'ReplyError' && UNAVAILABLE_REPLIES.test(error.message)
}

/** A Lua script run by its SHA1, sent again in full when the server does not know it (after a restart). */
export class LuaScript {
  readonly sha: string

  constructor (readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  /** `keys` are the keys the script declares (KEYS[1..]); `args` follow as ARGV. */
  async run (client: Redis, args: ReadonlyArray<string | number>, keys: readonly string[] = []): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return await client.eval(this.source, keys.length, ...keys, ...args)
    }
  }
}

/**
 * What the server's configuration means for sessions: warnings for settings that can lose revocations or
 * users (no persistence, eviction). Empty when the settings are right or cannot be read (managed services
 * often disable CONFIG).
 */
export async function redisDurabilityWarnings (client: Redis): Promise<string[]> {
  const settings: Record<string, string> = {}
  try {
    // One parameter per CONFIG GET: several in one call need Redis 7.
    for (const name of ['appendonly', 'save', 'maxmemory-policy']) {
      const [, value] = await client.config('GET', name) as [string, string]
      settings[name] = value
    }
  } catch {
    return []
  }
  const warnings: string[] = []
  if (settings['appendonly'] !== 'yes') {
    warnings.push(settings['save'] === ''
      ? 'Redis has no persistence (appendonly no, no RDB save): a Redis restart loses every session, revocation and user; see docs/deployment.md'
      : 'Redis runs without AOF (appendonly no): a crash loses the revocations and rotations since the last RDB snapshot; see docs/deployment.md')
  }
  if (settings['maxmemory-policy'] !== 'noeviction') {
    warnings.push(`Redis maxmemory-policy is ${String(settings['maxmemory-policy'])}: under memory pressure it may evict sessions, revocations or users; set noeviction`)
  }
  return warnings
}
