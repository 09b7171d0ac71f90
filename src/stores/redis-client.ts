/**
 * The Redis connection (ioredis) and what every Redis-backed store shares: fail-fast client options, Lua
 * scripts run by their SHA, a check of the server's durability settings, and the classification of the
 * client's errors as "store unavailable".
 */
import { createHash } from 'node:crypto'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import { StoreConnectError } from '../common/errors.js'

export type { Cluster, Redis } from 'ioredis'

/** A connection to one Redis (directly, or to the primary Sentinel names) or to a Redis Cluster. */
export type RedisConnection = Redis | Cluster

export interface RedisAddress {
  host: string
  port: number
}

export interface RedisClientConfig {
  /**
   * The server, `redis[s]://[[user]:password@]host:port[/db]`. With `sentinels` or `clusterNodes`, only its
   * credentials, TLS and database are used: the addresses come from the Sentinels or the cluster.
   */
  url: string
  /** A command without an answer after this long fails (and the request answers 503). */
  commandTimeoutMs: number
  /** Shown by CLIENT LIST, to tell the service's connections apart. */
  connectionName?: string
  /** Redis Sentinel: where the Sentinels listen; the client connects to the primary they name. */
  sentinels?: RedisAddress[]
  /** With `sentinels`: the name of the monitored primary (`sentinel monitor <name> ...`). */
  sentinelName?: string
  /** With `sentinels`: the Sentinels' own password (`requirepass` in sentinel.conf), if any. */
  sentinelPassword?: string
  /** Redis Cluster: some of its nodes (the client discovers the others). */
  clusterNodes?: RedisAddress[]
}

/** `host:port` (or `[v6]:port`) → an address; throws a TypeError naming what is wrong. */
export function parseRedisAddress (text: string): RedisAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim())
  const port = Number(match?.[3])
  if (match === null || port < 1 || port > 65535) throw new TypeError(`"${text}" is not host:port`)
  return { host: (match[1] ?? match[2]) as string, port }
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

/** Where the configuration points, without credentials: for log lines and error messages. */
export function redisConfigLocation (config: RedisClientConfig): string {
  const list = (addresses: RedisAddress[]): string => addresses.map(({ host, port }) => `${host}:${port}`).join(',')
  if (config.clusterNodes !== undefined) return `cluster ${list(config.clusterNodes)}`
  if (config.sentinels !== undefined) return `sentinel ${config.sentinelName ?? ''} via ${list(config.sentinels)}`
  return redisLocation(config.url)
}

/** What the URL says about how to talk to each node (credentials, TLS, database), for Sentinel and Cluster. */
function urlNodeOptions (url: string): Pick<RedisOptions, 'username' | 'password' | 'tls' | 'db'> {
  const parsed = new URL(url)
  const db = parsed.pathname.replace(/^\//, '')
  return {
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    ...(db === '' ? {} : { db: Number(db) })
  }
}

/**
 * A Cluster client with the same fail-fast behaviour: commands fail at once while a slot's node is away (no
 * offline queue, no retry of a command on another node after a connection loss), and the slot map is
 * refreshed on MOVED/ASK and on reconnection. Only primaries serve: replicas can lag behind.
 */
export function redisClusterOptions (config: RedisClientConfig): Omit<ClusterOptions, 'redisOptions'> & { redisOptions: Omit<RedisOptions, 'replyMapping' | 'enableOfflineQueue' | 'retryStrategy'> } {
  const node = urlNodeOptions(config.url)
  if (node.db !== undefined && node.db !== 0) throw new TypeError('Redis Cluster has only database 0: remove the /db from REDIS_URL')
  const { retryStrategy, ...redisOptions } = redisClientOptions(config)
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    clusterRetryStrategy: retryStrategy,
    redisOptions: { ...redisOptions, ...node }
  }
}

function createClient (config: RedisClientConfig): RedisConnection {
  if (config.clusterNodes !== undefined) return new Cluster(config.clusterNodes, redisClusterOptions(config))
  if (config.sentinels !== undefined) {
    return new Redis({
      ...redisClientOptions(config),
      ...urlNodeOptions(config.url),
      sentinels: config.sentinels,
      name: config.sentinelName ?? 'mymaster',
      ...(config.sentinelPassword === undefined || config.sentinelPassword === '' ? {} : { sentinelPassword: config.sentinelPassword }),
      // Each Sentinel is asked in turn; when none answers, the round starts again at most a second later.
      sentinelRetryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 5), 1000),
      sentinelCommandTimeout: config.commandTimeoutMs
      // ioredis' failoverDetector is left off: seen here, its disconnect on +switch-master can land while the
      // client is connecting and leave it closed for good. Without it, a dead primary fails the connection and
      // a demoted one answers READONLY (reconnectOnError): both reconnect through the Sentinels.
    })
  }
  return new Redis(config.url, redisClientOptions(config))
}

/** A connected client; rejects with StoreConnectError (and leaves nothing running) when Redis cannot be reached. */
export async function connectRedis (config: RedisClientConfig & { clusterNodes?: undefined }): Promise<Redis>
export async function connectRedis (config: RedisClientConfig): Promise<RedisConnection>
export async function connectRedis (config: RedisClientConfig): Promise<RedisConnection> {
  let client: RedisConnection
  try {
    client = createClient(config)
  } catch (cause) {
    throw new StoreConnectError(redisConfigLocation(config), (cause as Error).message, { cause })
  }
  // ioredis reports connection errors as events too; the state they describe is handled where commands fail.
  // The last one is kept (one reference): it says why the first connection failed ("connect ECONNREFUSED
  // 127.0.0.1:6399"), where connect() itself only says "Connection is closed.".
  let lastError: Error | undefined
  client.on('error', (error: Error) => { lastError = error })
  // With Sentinels or a cluster, ioredis keeps trying the list for ever: the first connection gets a deadline,
  // so a service started against addresses where nothing answers says so instead of waiting silently.
  const deadlineMs = Math.max(config.commandTimeoutMs * 5, 5000)
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`nothing answered within ${deadlineMs / 1000} s`)) }, deadlineMs)
      })
    ])
  } catch (cause) {
    client.disconnect()
    const message = (cause as Error).message
    const why = lastError !== undefined && message === 'Connection is closed.' ? lastError.message : message
    throw new StoreConnectError(redisConfigLocation(config), why, { cause })
  } finally {
    clearTimeout(timer)
  }
  return client
}

/**
 * A second connection like `client` (same server, Sentinels or cluster; same credentials) for a blocking
 * command: its command timeout is `extraTimeoutMs` longer, and its name ends in `:<role>`.
 */
export function duplicateConnection (client: RedisConnection, extraTimeoutMs: number, role: string): RedisConnection {
  if (client instanceof Cluster) {
    // duplicate() merges its options over the original's shallowly: redisOptions is given whole.
    const options = client.options.redisOptions ?? {}
    const redisOptions = { ...options, commandTimeout: (options.commandTimeout ?? 1000) + extraTimeoutMs, connectionName: `${options.connectionName ?? 'stateless-session'}:${role}` }
    return client.duplicate(undefined, { redisOptions } as Parameters<Cluster['duplicate']>[1])
  }
  return client.duplicate({
    commandTimeout: (client.options.commandTimeout ?? 1000) + extraTimeoutMs,
    connectionName: `${client.options.connectionName ?? 'stateless-session'}:${role}`
  })
}

/** Closes politely when connected (pending replies arrive first), at once otherwise. Never rejects. */
export async function closeRedis (client: RedisConnection): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit()
    } catch {}
  }
  // Also after QUIT: releases what the connection holds besides its socket (the Sentinel failover detector's
  // own connections).
  client.disconnect()
}

/**
 * A write that Redis applied but did not confirm on the requested number of replicas in time (`WAIT`): not
 * acknowledged to the caller (503), since a failover could still lose it.
 */
export class ReplicaWaitError extends Error {
  override readonly name = 'ReplicaWaitError'

  constructor (readonly wanted: number, readonly acknowledged: number) {
    super(`NOREPLICAS the write reached ${acknowledged} of the ${wanted} replicas REDIS_WAIT_REPLICAS asks for`)
  }
}

/** How long a write waits for its replicas (WAIT), and how many it needs; 0 replicas: no wait. */
export interface ReplicaWait {
  replicas: number
  timeoutMs: number
}

/** Runs `fill`'s commands and then WAIT in one pipeline (one connection, so WAIT covers them); the replies. */
export async function replicated (client: RedisConnection, wait: ReplicaWait, fill: (pipeline: ReturnType<RedisConnection['pipeline']>) => void): Promise<Array<[Error | null, unknown]>> {
  const pipeline = client.pipeline()
  fill(pipeline)
  if (wait.replicas > 0) pipeline.wait(wait.replicas, wait.timeoutMs)
  const replies = await pipeline.exec() as Array<[Error | null, unknown]> | null
  if (replies === null) throw new Error('Connection is closed: the pipeline was not sent')
  if (wait.replicas > 0) {
    const [waitError, acknowledged] = replies.pop() as [Error | null, number]
    // A failed command wrote nothing to wait for: its own error is the one to report.
    const failed = replies.find(([error]) => error !== null)
    if (failed === undefined) {
      if (waitError !== null) throw waitError
      if (acknowledged < wait.replicas) throw new ReplicaWaitError(wait.replicas, acknowledged)
    }
  }
  return replies
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
  if (error instanceof ReplicaWaitError) return true
  if (UNAVAILABLE_MESSAGES.some((m) => error.message.startsWith(m))) return true
  return error.name === 'ReplyError' && UNAVAILABLE_REPLIES.test(error.message)
}

/** A Lua script run by its SHA1, sent again in full when the server does not know it (after a restart). */
export class LuaScript {
  readonly sha: string

  constructor (readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  /**
   * `keys` are the keys the script declares (KEYS[1..]); `args` follow as ARGV. With `wait`, answers only once
   * the script's writes reached that many replicas (ReplicaWaitError otherwise).
   */
  async run (client: RedisConnection, args: ReadonlyArray<string | number>, keys: readonly string[] = [], wait?: ReplicaWait): Promise<unknown> {
    if (wait !== undefined && wait.replicas > 0) return await this.#runReplicated(client, args, keys, wait)
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!isNoScript(error)) throw error
      return await client.eval(this.source, keys.length, ...keys, ...args)
    }
  }

  async #runReplicated (client: RedisConnection, args: ReadonlyArray<string | number>, keys: readonly string[], wait: ReplicaWait): Promise<unknown> {
    let [[error, result]] = await replicated(client, wait, (p) => p.evalsha(this.sha, keys.length, ...keys, ...args)) as [[Error | null, unknown]]
    if (isNoScript(error)) [[error, result]] = await replicated(client, wait, (p) => p.eval(this.source, keys.length, ...keys, ...args)) as [[Error | null, unknown]]
    if (error !== null) throw error
    return result
  }
}

function isNoScript (error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT')
}

/**
 * What the server's configuration means for sessions: warnings for settings that can lose revocations or
 * users (no persistence, eviction). Empty when the settings are right or cannot be read (managed services
 * often disable CONFIG).
 */
export async function redisDurabilityWarnings (client: RedisConnection): Promise<string[]> {
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
