/**
 * Options of the session plugin, checked when it registers: a wrong option stops `ready()` with a message
 * naming the option and the fix. The caller's object is never modified.
 */
import type { Redis } from 'ioredis'
import type { Clock } from '../common/clock.js'
import { canonicalOrigin } from './csrf.js'
import { InvalidOptionError } from '../common/errors.js'
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from './rate-limits.js'
import type { FindUser, VerifyCredentials } from '../session/session-service.js'
import type { SessionStore } from '../stores/session-store.js'
import { assessSecret } from '../tokens/secret-strength.js'

export interface SessionPluginOptions {
  /** Master secret, at least 32 bytes of random data. */
  secret: string | Buffer
  /** Earlier secrets still accepted; tokens under them are re-issued under `secret` at refresh. */
  previousSecrets?: ReadonlyArray<string | Buffer>
  /** Where families and revocations live (MemorySessionStore, SqliteSessionStore, RedisSessionStore). */
  store: SessionStore
  /** Your credential check: the user for a correct username and password, else null. */
  verifyCredentials: VerifyCredentials
  /** Optional: the current profile of a user (null if gone or disabled), re-read at every refresh. */
  findUser?: FindUser
  /** Prefix of the auth routes and Path of the refresh cookie. Default `/auth`. */
  prefix?: string
  issuer?: string
  audience?: string
  accessTtlSeconds?: number
  refreshIdleTtlSeconds?: number
  sessionMaxAgeSeconds?: number
  refreshReuseGraceSeconds?: number
  clockLeewaySeconds?: number
  /** Default true. False drops Secure and the cookie prefixes: plain-http development only. */
  cookieSecure?: boolean
  /** Production refuses `cookieSecure: false` and weak secrets. Default false. */
  production?: boolean
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: Clock
  /** Verified access tokens kept in memory, by exact text, from their second verification on. Default 10000; 0 turns the cache off. */
  verifiedTokenCacheSize?: number
  /** How often revocations recorded by other processes are picked up (stores without push). Default 1000 ms. */
  revocationPollIntervalMs?: number
  /**
   * Longest time, in seconds, access checks trust the in-memory revocation view without confirming it with
   * the store; beyond it `requireSession` answers 503 ERR_SESSION_STORE_STALE (fail closed). 0 turns the limit
   * off. Default 5 for a store shared over the network (one with `waitForRevocations`: Redis), else 0.
   */
  maxStalenessSeconds?: number
  /** Register the auth routes. Default true; false for an app that only checks sessions. */
  routes?: boolean
  /**
   * Origins (`https://app.example.com`) of front ends on the same site that may call the auth routes: they
   * pass the CSRF check with `Sec-Fetch-Site: same-site`, and get CORS with credentials. Default none.
   */
  trustedOrigins?: readonly string[]
  /** The origin browsers reach this service at. Default: derived from each request's Host and protocol. */
  publicOrigin?: string
  /**
   * Register @fastify/cors on the auth routes, allowing exactly `trustedOrigins` with credentials. Default
   * true (nothing is registered without trusted origins). Skipped, with a warning, when the app registered
   * @fastify/cors itself; that one then governs the auth routes too.
   */
  cors?: boolean
  /** Security headers (nosniff, CSP, frame and referrer policy, HSTS over https) on auth responses. Default true. */
  securityHeaders?: boolean
  /** Login and refresh limits (docs/security.md); `false` only if you limit these routes yourself. */
  rateLimit?: Partial<RateLimitSettings> | false
  /** An ioredis client: the rate-limit counters then live in Redis, shared by all instances. Default: memory. */
  redis?: Redis
  /** With `redis`: prefix of the rate-limit counters' keys (`<prefix>rate-limit:...`). Default `stateless-session:`. */
  redisKeyPrefix?: string
}

export interface ResolvedOptions {
  secret: Buffer
  previousSecrets: Buffer[]
  store: SessionStore
  verifyCredentials: VerifyCredentials
  findUser: FindUser | undefined
  prefix: string
  issuer: string
  audience: string
  accessTtl: number
  refreshIdleTtl: number
  maxAge: number
  grace: number
  leeway: number
  cookieSecure: boolean
  production: boolean
  clock: Clock
  verifiedTokenCacheSize: number
  revocationPollIntervalMs: number
  maxStalenessSeconds: number
  routes: boolean
  trustedOrigins: ReadonlySet<string>
  publicOrigin: string | undefined
  cors: boolean
  securityHeaders: boolean
  rateLimit: RateLimitSettings | false
  redis: Redis | undefined
  redisKeyPrefix: string
  /** Problems worth a warning at startup (not fatal here). */
  warnings: string[]
}

function fail (option: string, problem: string): never {
  throw new InvalidOptionError(`session plugin option "${option}" ${problem}`)
}

function integer (option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    fail(option, `must be an integer from ${min} to ${max} (got ${String(value)})`)
  }
  return value as number
}

function text (option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) fail(option, 'must be a non-empty string of at most 256 characters')
  return value
}

function bool (option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(option, 'must be a boolean')
  return value
}

function origin (option: string, value: unknown): string {
  const canonical = canonicalOrigin(value)
  if (canonical === undefined) fail(option, `must be an origin such as https://app.example.com: scheme, lower-case host and port only, no path or trailing slash (got ${String(value)})`)
  return canonical
}

function trustedOrigins (value: unknown): Set<string> {
  if (value === undefined) return new Set()
  if (!Array.isArray(value)) fail('trustedOrigins', 'must be an array of origins')
  return new Set(value.map((o, i) => origin(`trustedOrigins[${i}]`, o)))
}

function rateLimits (value: unknown): RateLimitSettings | false {
  if (value === false) return false
  if (value === undefined) return { ...DEFAULT_RATE_LIMITS }
  if (typeof value !== 'object' || value === null) fail('rateLimit', 'must be false or an object of limits')
  const given = value as Partial<Record<keyof RateLimitSettings, unknown>>
  const unknown = Object.keys(given).filter((key) => !(key in DEFAULT_RATE_LIMITS))
  if (unknown.length > 0) fail('rateLimit', `has unknown keys: ${unknown.join(', ')}`)
  const settings = { ...DEFAULT_RATE_LIMITS }
  for (const key of Object.keys(DEFAULT_RATE_LIMITS) as Array<keyof RateLimitSettings>) {
    settings[key] = integer(`rateLimit.${key}`, given[key], DEFAULT_RATE_LIMITS[key], 1, key.endsWith('Seconds') ? 86400 : 1_000_000)
  }
  return settings
}

function secretBytes (option: string, value: unknown, production: boolean, warnings: string[]): Buffer {
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) fail(option, 'must be a string or a Buffer of at least 32 bytes of random data')
  const bytes = Buffer.from(value)
  const problem = assessSecret(bytes)
  if (problem === 'short') fail(option, `is too short: at least 32 bytes are required (got ${bytes.length})`)
  if (problem === 'weak') {
    if (production) fail(option, 'looks weak (a placeholder or too little variety); generate one with `openssl rand -base64 32`')
    warnings.push(`the session ${option} looks weak (SESSION_SECRET, or the plugin's ${option} option); production would refuse it`)
  }
  return bytes
}

function redisKeyPrefix (value: unknown): string {
  if (value === undefined) return 'stateless-session:'
  if (typeof value !== 'string' || !/^[A-Za-z0-9:._{}-]{1,64}$/.test(value)) fail('redisKeyPrefix', 'must be 1-64 characters of A-Z, a-z, 0-9 and :._{}-')
  return value
}

export function resolveOptions (options: SessionPluginOptions): ResolvedOptions {
  const warnings: string[] = []
  const production = options.production ?? false
  if (typeof production !== 'boolean') fail('production', 'must be a boolean')
  const secret = secretBytes('secret', options.secret, production, warnings)
  const previous = options.previousSecrets ?? []
  if (!Array.isArray(previous)) fail('previousSecrets', 'must be an array')
  const previousSecrets = previous.map((s, i) => secretBytes(`previousSecrets[${i}]`, s, production, warnings))

  const store = options.store
  const storeMethods = ['revocationMark', 'createFamily', 'rotate', 'listFamilies', 'revokeFamily', 'revokeToken', 'revokeSubject',
    'loadRevocations', 'revocationsSince', 'purgeExpired', 'ping', 'close'] as const
  if (typeof store !== 'object' || store === null || !storeMethods.every((m) => typeof store[m] === 'function')) {
    fail('store', 'must implement the SessionStore interface (MemorySessionStore, SqliteSessionStore or RedisSessionStore)')
  }
  if (typeof options.verifyCredentials !== 'function') fail('verifyCredentials', 'must be a function (username, password) => Promise<user | null>')
  if (options.findUser !== undefined && typeof options.findUser !== 'function') fail('findUser', 'must be a function (id) => Promise<user | null>')

  const prefix = text('prefix', options.prefix, '/auth')
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) fail('prefix', `must be a path such as /auth, without a trailing slash (got ${prefix})`)

  const accessTtl = integer('accessTtlSeconds', options.accessTtlSeconds, 900, 10, 86400)
  const refreshIdleTtl = integer('refreshIdleTtlSeconds', options.refreshIdleTtlSeconds, 604800, 60, 31536000)
  const maxAge = integer('sessionMaxAgeSeconds', options.sessionMaxAgeSeconds, 2592000, 60, 31536000)
  if (refreshIdleTtl < accessTtl) fail('refreshIdleTtlSeconds', `must be at least accessTtlSeconds (${accessTtl})`)
  if (maxAge < accessTtl) fail('sessionMaxAgeSeconds', `must be at least accessTtlSeconds (${accessTtl})`)
  const grace = integer('refreshReuseGraceSeconds', options.refreshReuseGraceSeconds, 10, 0, 300)
  if (grace >= accessTtl) fail('refreshReuseGraceSeconds', `must be shorter than accessTtlSeconds (${accessTtl})`)
  const leeway = integer('clockLeewaySeconds', options.clockLeewaySeconds, 30, 0, 300)

  const cookieSecure = options.cookieSecure ?? true
  if (typeof cookieSecure !== 'boolean') fail('cookieSecure', 'must be a boolean')
  if (!cookieSecure && production) fail('cookieSecure', 'cannot be false in production: cookies would travel over plain http')
  if (!cookieSecure) warnings.push('cookies are not Secure (COOKIE_SECURE=false): for plain-http development only')

  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') fail('clock', 'must be a function returning milliseconds since the epoch')
  const routes = bool('routes', options.routes, true)
  const redis = options.redis
  if (redis !== undefined && (typeof redis !== 'object' || redis === null || typeof redis.defineCommand !== 'function')) {
    fail('redis', 'must be an ioredis client')
  }

  return {
    secret,
    previousSecrets,
    store,
    verifyCredentials: options.verifyCredentials,
    findUser: options.findUser,
    prefix,
    issuer: text('issuer', options.issuer, 'stateless-session'),
    audience: text('audience', options.audience, 'stateless-session'),
    accessTtl,
    refreshIdleTtl,
    maxAge,
    grace,
    leeway,
    cookieSecure,
    production,
    clock,
    verifiedTokenCacheSize: integer('verifiedTokenCacheSize', options.verifiedTokenCacheSize, 10000, 0, 10_000_000),
    revocationPollIntervalMs: integer('revocationPollIntervalMs', options.revocationPollIntervalMs, 1000, 10, 3_600_000),
    maxStalenessSeconds: integer('maxStalenessSeconds', options.maxStalenessSeconds, store.waitForRevocations === undefined ? 0 : 5, 0, 3600),
    routes,
    trustedOrigins: trustedOrigins(options.trustedOrigins),
    publicOrigin: options.publicOrigin === undefined ? undefined : origin('publicOrigin', options.publicOrigin),
    cors: bool('cors', options.cors, true),
    securityHeaders: bool('securityHeaders', options.securityHeaders, true),
    rateLimit: rateLimits(options.rateLimit),
    redis,
    redisKeyPrefix: redisKeyPrefix(options.redisKeyPrefix),
    warnings
  }
}
