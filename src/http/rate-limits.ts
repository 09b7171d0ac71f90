/**
 * Login and refresh limits (docs/security.md rule 20; ASVS 6.1.1, 6.3.1), built on @fastify/rate-limit's
 * limiters (`createRateLimit`) and stores: process memory by default (on the injected clock), or Redis
 * through the service's ioredis client, so that every instance counts together.
 *
 * What limits what:
 * - Failed logins per account (the normalised username, from any client): caps guessing one password from
 *   many addresses. Default 10 per 15 minutes.
 * - Failed logins per client IP (IPv6 per /64, which one client usually owns whole): caps one client
 *   spraying guesses over many accounts, and so also how many accounts one client can throttle (IP limit
 *   divided by account limit per window). Default 100 per 15 minutes.
 * - Refresh requests per client IP: bounds store writes per client. Default 120 per minute.
 * - Sign-ups per client IP, every attempt counted: bounds accounts created, and usernames probed, per client.
 *   Default 10 per hour.
 * - Wrong second-factor codes (the second step of a login) per account and per client IP, in counters of their
 *   own: 5 per account and 50 per IP per 15 minutes by default. A code has 10^6 values and about three are
 *   valid at once, so five guesses a window give an attacker who holds the password about 1 chance in 70,000
 *   per window; every refusal reports Retry-After.
 * - A password change checks the current password: a wrong one counts as a failed login of that account and
 *   client, under the same limits, so a stolen session cannot be used to guess the password.
 *
 * Only failures count at login: a success is never blocked by other people's successes (one busy NAT), and
 * successes do not reset the count (an attacker would get fresh guesses whenever the owner logs in). A
 * refused attempt counts nothing and extends nothing: a window ends at most one window length after its
 * first failure, so no lockout outlives the attack. Someone who keeps failing against an account keeps it
 * throttled; that costs them the per-IP budget, and the owner regains access as soon as they stop.
 *
 * The counter is read before the password check and written after it. Attempts still running in this
 * process count as failures until they finish, so parallel guesses cannot all slip past one read; between
 * instances sharing Redis the gap is one password check per instance.
 */
import fastifyRateLimit, { normalizeIP, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { createHash } from 'node:crypto'
import type { Clock } from '../common/clock.js'
import { InvalidOptionError, StoreUnavailableError } from '../common/errors.js'
import type { RateLimitSettings } from './plugin-options.js'
import type { SessionCounters } from '../session/session-counters.js'

export type { RateLimitSettings } from './plugin-options.js'

/** Where the counters live in Redis: after the deployment's key prefix, so deployments sharing a Redis count apart. */
export function redisNamespace (keyPrefix: string): string {
  return `${keyPrefix}rate-limit:`
}
/** Windows kept per limiter in memory; beyond it the oldest window is dropped (bounded memory). */
export const MAX_MEMORY_WINDOWS = 100_000

/** Which limit refused a request, and in how many seconds to retry (`Retry-After`). */
export interface RateLimitBlock {
  scope: 'account' | 'ip'
  retryAfter: number
}

export type LoginOutcome<T> = { blocked: RateLimitBlock } | { result: T | null }

/** The limits the auth routes apply. */
export interface AuthRateLimits {
  /**
   * Runs a login attempt unless a limit is reached; a null result (bad credentials) counts as a failure of
   * the account `request.body.username` names and of the client.
   */
  login: <T>(request: FastifyRequest, attempt: () => Promise<T | null>, account?: string) => Promise<LoginOutcome<T>>
  /**
   * Runs a second-factor check unless a limit is reached; a null result (a wrong or replayed code) counts as a
   * failure of `account` (the pending login's user) and of the client.
   */
  secondFactor: <T>(request: FastifyRequest, attempt: () => Promise<T | null>, account: string) => Promise<LoginOutcome<T>>
  /** Counts a refresh request; the block when over the limit. */
  refresh: (request: FastifyRequest) => Promise<RateLimitBlock | undefined>
  /** Counts a sign-up attempt; the block when over the limit. */
  signup: (request: FastifyRequest) => Promise<RateLimitBlock | undefined>
}

/** Limits turned off (`rateLimit: false`): for apps that limit these routes themselves. */
export const NO_RATE_LIMITS: AuthRateLimits = {
  async login (_request, attempt) {
    return { result: await attempt() }
  },
  async secondFactor (_request, attempt) {
    return { result: await attempt() }
  },
  async refresh () {
    return undefined
  },
  async signup () {
    return undefined
  }
}

/** The same limits, each refusal counted by limit and scope (the `stateless_session_rate_limited_total` metric). */
export function countedLimits (limits: AuthRateLimits, counts: SessionCounters['rateLimited']): AuthRateLimits {
  return {
    async login (request, attempt, account) {
      const outcome = await limits.login(request, attempt, account)
      if ('blocked' in outcome) counts.login[outcome.blocked.scope]++
      return outcome
    },
    async secondFactor (request, attempt, account) {
      const outcome = await limits.secondFactor(request, attempt, account)
      if ('blocked' in outcome) counts.second_factor[outcome.blocked.scope]++
      return outcome
    },
    async refresh (request) {
      const blocked = await limits.refresh(request)
      if (blocked !== undefined) counts.refresh[blocked.scope]++
      return blocked
    },
    async signup (request) {
      const blocked = await limits.signup(request)
      if (blocked !== undefined) counts.signup[blocked.scope]++
      return blocked
    }
  }
}

/**
 * The account a username names, for counting: Unicode-compatibility normalised, trimmed, lower-cased
 * (usernames are unique regardless of case), then hashed, so no username is stored as a key.
 */
export function accountKey (username: string): string {
  return createHash('sha256').update(username.normalize('NFKC').trim().toLowerCase()).digest('base64url')
}

/** The client a request comes from: request.ip (X-Forwarded-For only from TRUST_PROXY), IPv6 per /64. */
export function clientKey (request: FastifyRequest): string {
  return normalizeIP(request.ip, 64)
}

type StoreCallback = (error: Error | null, result?: { current: number, ttl: number }) => void

/**
 * Fixed windows in memory, on the injected clock (tests move time instead of sleeping). A window starts at its
 * first count and ends `timeWindow` later; a refused attempt is only read, so it never extends one.
 */
export class MemoryRateLimitStore {
  readonly #clock: Clock
  readonly #maxWindows: number
  readonly #windows = new Map<string, { count: number, startMs: number }>()

  constructor (clock: Clock, maxWindows = MAX_MEMORY_WINDOWS) {
    this.#clock = clock
    this.#maxWindows = maxWindows
  }

  get size (): number {
    return this.#windows.size
  }

  incr (key: string, callback: StoreCallback, timeWindow: number): void {
    const now = this.#clock()
    let window = this.#windows.get(key)
    if (window === undefined || window.startMs + timeWindow <= now) {
      // Re-inserted, so the map stays in window-start order and expired windows gather at its front.
      this.#windows.delete(key)
      this.#evict(now, timeWindow)
      window = { count: 0, startMs: now }
      this.#windows.set(key, window)
    }
    window.count++
    callback(null, { current: window.count, ttl: window.startMs + timeWindow - now })
  }

  read (key: string, callback: StoreCallback, timeWindow: number): void {
    const now = this.#clock()
    const window = this.#windows.get(key)
    if (window === undefined || window.startMs + timeWindow <= now) callback(null, { current: 0, ttl: 0 })
    else callback(null, { current: window.count, ttl: window.startMs + timeWindow - now })
  }

  /** Each limiter gets its own map (all its windows then have one length, which keeps the order above). */
  child (): MemoryRateLimitStore {
    return new MemoryRateLimitStore(this.#clock, this.#maxWindows)
  }

  #evict (now: number, timeWindow: number): void {
    for (const [key, window] of this.#windows) {
      if (this.#windows.size < this.#maxWindows && window.startMs + timeWindow > now) return
      this.#windows.delete(key)
    }
  }
}

/** INCR and, on a window's first count, its expiry; a counter found without one gets it (never a lockout for good). */
const REDIS_INCR = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`

/** The count and the window's remaining milliseconds, unchanged (0, 0 without a window). */
const REDIS_READ = `
local current = redis.call('GET', KEYS[1])
if not current then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(current), ttl}`

type RedisCounter = (key: string, ...args: Array<string | number>) => Promise<[number, number]>

/**
 * Fixed windows in Redis, shared by every instance, under `<namespace><limit>:<client or account>` (the keys
 * the limiters' key generators make: `<prefix>rate-limit:login-ip:203.0.113.7`). The window starts at its first
 * count and is the key's expiry. In place of @fastify/rate-limit's own Redis store, whose limiters made with
 * `createRateLimit` put the route's method and URL in the key, and there are none: `undefinedundefined-`.
 */
export class RedisRateLimitStore {
  readonly #incr: RedisCounter
  readonly #read: RedisCounter
  readonly #namespace: string

  constructor (redis: Redis | Cluster, namespace: string) {
    const commands = redis as unknown as Record<string, RedisCounter | undefined>
    if (commands['sessionRateLimitIncr'] === undefined) redis.defineCommand('sessionRateLimitIncr', { numberOfKeys: 1, lua: REDIS_INCR })
    if (commands['sessionRateLimitRead'] === undefined) redis.defineCommand('sessionRateLimitRead', { numberOfKeys: 1, lua: REDIS_READ })
    this.#incr = (commands['sessionRateLimitIncr'] as RedisCounter).bind(redis)
    this.#read = (commands['sessionRateLimitRead'] as RedisCounter).bind(redis)
    this.#namespace = namespace
  }

  incr (key: string, callback: StoreCallback, timeWindow: number): void {
    this.#incr(this.#namespace + key, timeWindow).then(([current, ttl]) => { callback(null, { current, ttl }) }, (error: Error) => { callback(error) })
  }

  read (key: string, callback: StoreCallback): void {
    this.#read(this.#namespace + key).then(([current, ttl]) => { callback(null, { current, ttl }) }, (error: Error) => { callback(error) })
  }

  /** One store for every limiter: each one's keys start with its own name (`login-ip:`, `refresh-ip:`, ...). */
  child (): RedisRateLimitStore {
    return this
  }
}

/** The store classes @fastify/rate-limit instantiates itself (with its own options, which these ignore). */
function memoryStore (clock: Clock): FastifyRateLimitStoreCtor {
  return class extends MemoryRateLimitStore { constructor () { super(clock) } }
}

function redisStore (redis: Redis | Cluster, namespace: string): FastifyRateLimitStoreCtor {
  return class extends RedisRateLimitStore { constructor () { super(redis, namespace) } }
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>
/** What a limiter answers when no allowList is configured (none is): the counted state. */
type Counted = Extract<Awaited<ReturnType<Limiter>>, { isAllowed: false }>

async function count (limiter: Limiter, request: FastifyRequest, increment: boolean): Promise<Counted> {
  try {
    return await limiter(request, { increment }) as Counted
  } catch (cause) {
    throw new StoreUnavailableError({ cause })
  }
}

function block (scope: RateLimitBlock['scope'], state: Counted): RateLimitBlock {
  return { scope, retryAfter: Math.max(1, state.ttlInSeconds) }
}

export interface RateLimitRegistration {
  settings: RateLimitSettings
  clock: Clock
  /** An ioredis client: the counters then live in Redis, shared by every instance. */
  redis?: Redis | Cluster | undefined
  /** With `redis`: the deployment's key prefix (REDIS_KEY_PREFIX). */
  keyPrefix: string
}

/**
 * Registers @fastify/rate-limit in `fastify` (the auth routes' context) and returns the limits. Refuses to
 * boot when the app registered @fastify/rate-limit in a parent scope already: its `createRateLimit` would
 * silently count in the app's store with the app's settings.
 */
export async function registerRateLimits (fastify: FastifyInstance, options: RateLimitRegistration): Promise<AuthRateLimits> {
  if (fastify.hasDecorator('createRateLimit')) {
    throw new InvalidOptionError('session plugin: @fastify/rate-limit is already registered in a parent scope; register the session plugin before it (or in a sibling scope), or pass rateLimit: false and limit the auth routes yourself')
  }
  const { settings, clock, redis, keyPrefix } = options
  await fastify.register(fastifyRateLimit, { global: false, store: redis === undefined ? memoryStore(clock) : redisStore(redis, redisNamespace(keyPrefix)) })

  const loginWindow = settings.loginWindowSeconds * 1000
  // The account a password check is about: the username typed at login, the session's user for a password change.
  const accounts = new WeakMap<FastifyRequest, string>()
  const accountOf = (request: FastifyRequest): string => `login-account:${accountKey(accounts.get(request) ?? (request.body as { username: string }).username)}`
  const ipOf = (request: FastifyRequest): string => `login-ip:${clientKey(request)}`
  const accountLimiter = fastify.createRateLimit({ max: settings.loginAccountMax, timeWindow: loginWindow, keyGenerator: accountOf })
  const ipLimiter = fastify.createRateLimit({ max: settings.loginIpMax, timeWindow: loginWindow, keyGenerator: ipOf })
  const refreshLimiter = fastify.createRateLimit({
    max: settings.refreshIpMax,
    timeWindow: settings.refreshWindowSeconds * 1000,
    keyGenerator: (request) => `refresh-ip:${clientKey(request)}`
  })
  const secondFactorWindow = settings.secondFactorWindowSeconds * 1000
  const secondFactorAccountLimiter = fastify.createRateLimit({ max: settings.secondFactorAccountMax, timeWindow: secondFactorWindow, keyGenerator: (request) => `second-factor-account:${accountKey(accounts.get(request) ?? '')}` })
  const secondFactorIpLimiter = fastify.createRateLimit({ max: settings.secondFactorIpMax, timeWindow: secondFactorWindow, keyGenerator: (request) => `second-factor-ip:${clientKey(request)}` })
  const signupLimiter = fastify.createRateLimit({
    max: settings.signupIpMax,
    timeWindow: settings.signupWindowSeconds * 1000,
    keyGenerator: (request) => `signup-ip:${clientKey(request)}`
  })

  // Login attempts under way in this process, per counter key.
  const inFlight = new Map<string, number>()
  const running = (key: string): number => inFlight.get(key) ?? 0
  const track = (keys: readonly string[], delta: number): void => {
    for (const key of keys) {
      const next = running(key) + delta
      if (next === 0) inFlight.delete(key)
      else inFlight.set(key, next)
    }
  }

  /** A check counted as a failure of its account and client when it answers null; refused over either limit. */
  async function limited<T> (limiters: readonly [Limiter, Limiter], request: FastifyRequest, attempt: () => Promise<T | null>, accountName: string | undefined): Promise<LoginOutcome<T>> {
    const [byAccount, byIp] = limiters
    if (accountName !== undefined) accounts.set(request, accountName)
    const [account, ip] = await Promise.all([count(byAccount, request, false), count(byIp, request, false)])
    if (account.remaining <= running(account.key)) return { blocked: block('account', account) }
    if (ip.remaining <= running(ip.key)) return { blocked: block('ip', ip) }
    const keys = [account.key, ip.key]
    track(keys, 1)
    let result
    try {
      result = await attempt()
    } finally {
      track(keys, -1)
    }
    if (result === null) await Promise.all([count(byAccount, request, true), count(byIp, request, true)])
    return { result }
  }

  return {
    async login (request, attempt, accountName) {
      return await limited([accountLimiter, ipLimiter], request, attempt, accountName)
    },
    async secondFactor (request, attempt, accountName) {
      return await limited([secondFactorAccountLimiter, secondFactorIpLimiter], request, attempt, accountName)
    },
    async refresh (request) {
      const state = await count(refreshLimiter, request, true)
      return state.isExceeded ? block('ip', state) : undefined
    },
    async signup (request) {
      const state = await count(signupLimiter, request, true)
      return state.isExceeded ? block('ip', state) : undefined
    }
  }
}
