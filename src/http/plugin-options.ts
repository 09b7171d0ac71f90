/**
 * Options of the session plugin: one TypeBox schema holds the default, range and description of every data
 * option, once. The standalone service's environment schema is derived from it (src/service/env-schema.ts),
 * and the options table of docs/plugin.md is generated from it (`npm run docs:config`).
 *
 * Options are checked when the plugin registers: a wrong option stops `ready()` with a message naming the
 * option and the fix. The caller's object is never modified.
 */
import type { Cluster, Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import { Type, type Static, type TSchema } from 'typebox'
import { Value } from 'typebox/value'
import type { Clock } from '../common/clock.js'
import { InvalidOptionError } from '../common/errors.js'
import type { FindUser, VerifyCredentials } from '../session/session-service.js'
import type { SessionStore } from '../stores/session-store.js'
import type { Accounts } from '../users/accounts.js'
import { assessSecret, MIN_SECRET_BYTES } from '../tokens/secret-strength.js'
import { canonicalOrigin } from './csrf.js'
import { checkLoginUrl, ForwardAuthOptionsSchema, identityHeaderList, type IdentityHeader } from './forward-auth-options.js'

const integer = (defaultValue: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: defaultValue, minimum, maximum, description })

/** Login and refresh limits (docs/security.md, "Login abuse"). */
export const RateLimitSchema = Type.Object({
  loginAccountMax: integer(10, 1, 1_000_000, 'Failed logins allowed per account (username, case-insensitive) per window, from all clients together; then 429 until the window ends.'),
  loginIpMax: integer(100, 1, 1_000_000, 'Failed logins allowed per client IP address (IPv6: per /64) per window, over all accounts; then 429 until the window ends.'),
  loginWindowSeconds: integer(900, 1, 86400, 'Length of the login failure window. The window starts at the first failure and is never extended by refused attempts: every limit ends on its own.'),
  refreshIpMax: integer(120, 1, 1_000_000, 'Refresh requests allowed per client IP address (IPv6: per /64) per refresh window.'),
  refreshWindowSeconds: integer(60, 1, 86400, 'Length of the refresh rate-limit window.'),
  signupIpMax: integer(10, 1, 1_000_000, 'Sign-up attempts allowed per client IP address (IPv6: per /64) per sign-up window, successful or not (with sign-up open).'),
  signupWindowSeconds: integer(3600, 1, 86400, 'Length of the sign-up rate-limit window.'),
  secondFactorAccountMax: integer(5, 1, 1_000_000, 'Wrong second-factor codes (the second step of a login) allowed per account per second-factor window, from all clients together; then 429 with Retry-After until the window ends.'),
  secondFactorIpMax: integer(50, 1, 1_000_000, 'Wrong second-factor codes allowed per client IP address (IPv6: per /64) per second-factor window, over all accounts.'),
  secondFactorWindowSeconds: integer(900, 1, 86400, 'Length of the second-factor failure window (starts at the first failure, never extended).')
}, { additionalProperties: false })

export type RateLimitSettings = Static<typeof RateLimitSchema>

/** A role name, as the built-in user directory allows them. */
export const ROLE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'

/** Prefix of Redis keys: safe in a key, and braces allowed for Redis Cluster hash tags. */
export const REDIS_KEY_PREFIX_PATTERN = '^[A-Za-z0-9:._{}-]{1,64}$'

/** Every option that is data (not a function or an object of the app's), with its default and range. */
export const PluginOptionsSchema = Type.Object({
  prefix: Type.String({ default: '/auth', pattern: '^(/[A-Za-z0-9._~-]+)+$', maxLength: 256, description: 'Path prefix of the auth routes; also the Path of the refresh cookie. No trailing slash.' }),
  issuer: Type.String({ default: 'stateless-session', minLength: 1, maxLength: 256, description: 'The `iss` claim written into and required of every token.' }),
  audience: Type.String({ default: 'stateless-session', minLength: 1, maxLength: 256, description: 'The `aud` claim written into and required of every token.' }),
  accessTtlSeconds: integer(900, 10, 86400, 'Lifetime of an access token and its cookie.'),
  refreshIdleTtlSeconds: integer(604800, 60, 31536000, 'Lifetime of a refresh token: a session not refreshed for this long ends (idle timeout). At least the access lifetime.'),
  sessionMaxAgeSeconds: integer(2592000, 60, 31536000, 'Absolute session lifetime, counted from login; no refresh extends it. At least the access lifetime.'),
  refreshReuseGraceSeconds: integer(10, 0, 300, 'How long the immediate predecessor of a refresh token may be presented again (parallel tabs) and get the same successor, before it counts as reuse. Shorter than the access lifetime.'),
  clockLeewaySeconds: integer(30, 0, 300, 'Clock skew tolerated on `exp`, `nbf` and `iat`.'),
  cookieSecure: Type.Boolean({ default: true, description: '`false` drops the `Secure` attribute and the `__Host-`/`__Secure-` prefixes, for plain-http development on hosts other than localhost. Refused in production.' }),
  production: Type.Boolean({ default: false, description: 'Refuse weak secrets and insecure cookies (a warning otherwise). The standalone service sets it from `NODE_ENV`.' }),
  trustedOrigins: Type.Array(Type.String(), { default: [], maxItems: 100, description: 'Origins (`https://app.example.com`: scheme, lower-case host and port only) of front ends on the same site that may call the auth routes: they pass the CSRF check with `Sec-Fetch-Site: same-site` and get CORS with credentials. Never `*` or `null`.' }),
  publicOrigin: Type.String({ default: '', description: 'The origin browsers reach the service at (`https://auth.example.com`). Requests whose `Origin` is this origin are same-origin for the CSRF check. Empty: derived per request from the Host header and protocol (forwarded headers only from trusted proxies). Set it in production.' }),
  cors: Type.Boolean({ default: true, description: 'Register @fastify/cors on the auth routes, allowing exactly the trusted origins with credentials (nothing is registered without trusted origins). When the app registered @fastify/cors itself, the plugin leaves CORS to it and logs a warning; `false` never registers it.' }),
  securityHeaders: Type.Boolean({ default: true, description: 'Security headers on auth answers: `nosniff`, a `default-src \'none\'` CSP, `frame-ancestors \'none\'`, `X-Frame-Options`, `Referrer-Policy`, CORP; HSTS over https.' }),
  routes: Type.Boolean({ default: true, description: '`false`: only check sessions, register no auth routes.' }),
  rateLimit: Type.Union([Type.Literal(false), Type.Partial(RateLimitSchema)], { default: {}, description: 'Login and refresh limits: any subset of the `rateLimit.*` rows; `false` only if you limit the auth routes yourself. The plugin registers @fastify/rate-limit in its own scope: register yours after it, or in a sibling scope (registered before, it stops the boot).' }),
  verifiedTokenCacheSize: integer(10000, 0, 10_000_000, 'Access tokens remembered, by exact text, once verified a second time (a token seen once is not kept); first in, first out; expiry and revocation are still checked on every hit; 0 turns it off.'),
  revocationPollIntervalMs: integer(1000, 10, 3_600_000, 'How often the revocation log is read in full, for stores without push (SQLite, memory). SQLite also asks the file every 10 ms whether another process committed (PRAGMA data_version) and reads the log at once when one did.'),
  maxStalenessSeconds: Type.Integer({ minimum: 0, maximum: 3600, description: 'Longest time access checks trust the in-memory revocation view without confirming it with a shared store (Redis); beyond it sessions are refused with 503 ERR_SESSION_STORE_STALE (fail closed). 0 turns the limit off. Default 5 with a store that pushes revocations (Redis), else 0.' }),
  requestDecorator: Type.String({ default: 'session', pattern: '^[A-Za-z_$][A-Za-z0-9_$]{0,63}$', description: 'Name of the request decorator holding the session (and of `<name>Stale`). Change it to register the plugin beside @fastify/session or @fastify/secure-session, which use `request.session`; rename it for TypeScript too (StatelessSessionNames).' }),
  csrfDecorator: Type.String({ default: 'csrfProtection', pattern: '^[A-Za-z_$][A-Za-z0-9_$]{0,63}$', description: 'Name of the app decorator holding the cross-site check. Change it to register the plugin beside @fastify/csrf-protection, which uses `app.csrfProtection`.' }),
  redisKeyPrefix: Type.String({ default: 'stateless-session:', pattern: REDIS_KEY_PREFIX_PATTERN, description: 'With `redis`: prefix of the rate-limit counters\' keys (`<prefix>rate-limit:...`).' }),
  reauthMaxAgeSeconds: integer(300, 1, 31536000, 'How recent an authentication (login or `POST <prefix>/reauth`) must be for the sensitive routes: logout-all, ending other sessions, second-factor changes, the admin routes; also the default of `app.requireRecentAuth()`. Older: 401 ERR_REAUTH_REQUIRED with `WWW-Authenticate` (RFC 9470).'),
  adminRole: Type.String({ default: 'admin', pattern: ROLE_PATTERN, description: 'With `accounts`: the role whose holders may use the admin routes (`<prefix>/admin/...`). At least one enabled user always keeps it.' }),
  signup: Type.Union([Type.Literal('closed'), Type.Literal('open')], { default: 'closed', description: 'With `accounts`: `open` adds `POST <prefix>/signup`, where anyone can create an account (rate-limited per IP). It tells whether a username is taken: see docs/security.md, "Sign-up".' }),
  ...ForwardAuthOptionsSchema,
  tracing: Type.Boolean({ default: false, description: 'OpenTelemetry spans (through `@opentelemetry/api`) for login, refresh, logout, store operations inside a traced request, and a sample of access checks. They reach an exporter only if the app registers an OpenTelemetry SDK (docs/operations.md).' }),
  traceAccessCheckRatio: Type.Number({ default: 0.01, minimum: 0, maximum: 1, description: 'With `tracing`: the share of access checks that get their own span (`session.access_check`); they run on every protected request, so only a sample is traced. 0: none.' })
}, { additionalProperties: false })

type DataOptions = Static<typeof PluginOptionsSchema>

/** Options that are the app's own objects and functions: checked by hand, documented here for the table. */
export const OBJECT_OPTIONS: Readonly<Record<string, { type: string, description: string }>> = {
  secret: { type: 'string | Buffer', description: 'Required. Master secret, at least 32 bytes of random data (`openssl rand -base64 32`); every token key is derived from it.' },
  previousSecrets: { type: 'Array<string | Buffer>', description: 'Earlier secrets still accepted during a rotation; tokens under them are re-issued under `secret` at their next refresh.' },
  store: { type: 'SessionStore', description: 'Required. Where families and revocations live: `MemorySessionStore`, `SqliteSessionStore` (`/sqlite`) or `RedisSessionStore` (`/redis`).' },
  verifyCredentials: { type: '(username, password) => Promise<SessionUser | null>', description: 'Required. Your credential check: the user (with optional app claims, see Session claims) for a correct username and password, else null.' },
  findUser: { type: '(id) => Promise<SessionUser | null>', description: 'The current profile of a user, read again at every refresh: null (deleted or disabled) ends the session, a changed profile (roles, claims) goes into the new tokens.' },
  clock: { type: '() => number', description: 'Milliseconds since the epoch; tests move time with it. Default `Date.now`.' },
  redis: { type: 'ioredis client', description: 'The rate-limit counters then live in Redis, shared by every instance. Default: process memory.' },
  accounts: { type: 'Accounts', description: 'A user directory (the built-in `UserDirectory`, or yours implementing `Accounts`): adds the password change, sign-up (with `signup`) and admin routes. Without it, only the session routes. Its changes must end sessions after they are stored (docs/plugin.md).' },
  isTrustedProxy: { type: '(address) => boolean', description: 'Which socket peers are reverse proxies: only their `X-Original-*` and `X-Forwarded-*` headers describe the original request to forward-auth (docs/proxies.md). Default: none. The service passes TRUST_PROXY.' },
  metricsRegistry: { type: 'prom-client Registry', description: 'Registers the session metrics (`stateless_session_*`, docs/operations.md) on this registry, the app\'s own, which the app serves. Default: no metrics.' }
}

export interface SessionPluginOptions extends Partial<Omit<DataOptions, 'rateLimit'>> {
  /** Master secret, at least 32 bytes of random data. */
  secret: string | Buffer
  /** Earlier secrets still accepted; tokens under them are re-issued under `secret` at refresh. */
  previousSecrets?: ReadonlyArray<string | Buffer>
  /** Where families and revocations live (MemorySessionStore, SqliteSessionStore or RedisSessionStore). */
  store: SessionStore
  /** Your credential check: the user (with optional app claims, see Session claims) for a correct username and password, else null. */
  verifyCredentials: VerifyCredentials
  /** Optional: the current profile of a user (null if gone or disabled), re-read at every refresh. */
  findUser?: FindUser
  /** Milliseconds since the epoch. Default `Date.now`. */
  clock?: Clock
  /** Login and refresh limits; `false` only if you limit these routes yourself. */
  rateLimit?: Partial<RateLimitSettings> | false
  /** An ioredis client: the rate-limit counters then live in Redis, shared by all instances. */
  redis?: Redis | Cluster
  /** A user directory: adds the account and admin routes. */
  accounts?: Accounts
  /** Which socket peers are reverse proxies whose forward-auth headers are believed. Default: none. */
  isTrustedProxy?: (address: string) => boolean
  /** A prom-client registry (the app's): the session metrics are registered on it. */
  metricsRegistry?: Registry
}

export interface ResolvedOptions extends Omit<DataOptions, 'trustedOrigins' | 'publicOrigin' | 'rateLimit' | 'maxStalenessSeconds' | 'identityHeaders' | 'loginUrl' | 'cookieDomain' | 'assertionHeader'> {
  secret: Buffer
  previousSecrets: Buffer[]
  store: SessionStore
  verifyCredentials: VerifyCredentials
  findUser: FindUser | undefined
  clock: Clock
  trustedOrigins: ReadonlySet<string>
  publicOrigin: string | undefined
  rateLimit: RateLimitSettings | false
  maxStalenessSeconds: number
  redis: Redis | Cluster | undefined
  accounts: Accounts | undefined
  identityHeaders: IdentityHeader[]
  loginUrl: string | undefined
  cookieDomain: string | undefined
  assertionHeader: string | undefined
  isTrustedProxy: (address: string) => boolean
  metricsRegistry: Registry | undefined
  /** Problems worth a warning at startup (not fatal here). */
  warnings: string[]
}

/**
 * How options are named in messages: as plugin options by default; the standalone service names its
 * environment variables instead, so each rule has one message in either setting.
 */
export interface OptionNaming {
  /** The option as the subject of a message. */
  subject: (option: string) => string
  /** The option mentioned inside a message. */
  mention: (option: string) => string
}

const PLUGIN_NAMING: OptionNaming = {
  subject: (option) => `session plugin option "${option}"`,
  mention: (option) => option
}

/** The default of a data option, as the schema says. */
export function optionDefault<K extends keyof DataOptions> (option: K): DataOptions[K] {
  return structuredClone((PluginOptionsSchema.properties[option] as { default?: DataOptions[K] }).default) as DataOptions[K]
}

/** Options whose pattern says too little to a reader. */
const EXPECTED: Readonly<Record<string, string>> = {
  prefix: 'a path such as /auth, without a trailing slash',
  redisKeyPrefix: '1-64 characters of A-Z, a-z, 0-9 and :._{}-',
  requestDecorator: 'a JavaScript identifier of at most 64 characters',
  csrfDecorator: 'a JavaScript identifier of at most 64 characters',
  identityHeaders: 'a list of oauth2-proxy, authelia or Header-Name=field (field: username, id, email, roles or session)',
  redirectHosts: 'a list of lower-case hosts such as app.example.com or .example.com',
  cookieDomain: 'empty or a lower-case domain such as example.com',
  assertionHeader: 'empty or a header name of at most 64 letters, digits and dashes'
}

/** What a schema allows, in words: the second half of "option X must be ...". */
export function expectation (schema: TSchema, option?: string): string {
  const expected = option === undefined ? undefined : EXPECTED[option]
  if (expected !== undefined) return expected
  const s = schema as { type?: string, minimum?: number, maximum?: number, minLength?: number, maxLength?: number, pattern?: string, anyOf?: Array<{ const?: unknown }> }
  if (s.anyOf !== undefined && s.anyOf.every((member) => 'const' in member)) return `one of ${s.anyOf.map((m) => JSON.stringify(m.const)).join(', ')}`
  switch (s.type) {
    case 'integer':
      return `an integer from ${String(s.minimum)} to ${String(s.maximum)}`
    case 'number':
      return `a number from ${String(s.minimum)} to ${String(s.maximum)}`
    case 'boolean':
      return 'a boolean'
    case 'array':
      return 'an array'
    case 'string':
      if (s.pattern !== undefined) return `a string matching ${s.pattern}`
      return s.minLength !== undefined ? `a string of ${s.minLength}-${String(s.maxLength)} characters` : 'a string'
    default:
      return 'valid'
  }
}

class Resolver {
  readonly warnings: string[] = []
  readonly #naming: OptionNaming

  constructor (naming: OptionNaming) {
    this.#naming = naming
  }

  fail (option: string, problem: string): never {
    throw new InvalidOptionError(`${this.#naming.subject(option)} ${problem}`)
  }

  mention (option: string): string {
    return this.#naming.mention(option)
  }

  /** A data option checked against its schema, or its default. */
  value<K extends keyof DataOptions> (options: Record<string, unknown>, option: K): DataOptions[K] {
    const given = options[option]
    if (given === undefined) return optionDefault(option)
    const schema = PluginOptionsSchema.properties[option]
    if (!Value.Check(schema, given)) this.fail(option, `must be ${expectation(schema, option)} (got ${describe(given)})`)
    return given as DataOptions[K]
  }

  secret (option: string, value: unknown, production: boolean): Buffer {
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) this.fail(option, `must be a string or a Buffer of at least ${MIN_SECRET_BYTES} bytes of random data`)
    const bytes = Buffer.from(value)
    const problem = assessSecret(bytes)
    if (problem === 'short') this.fail(option, `is too short: at least ${MIN_SECRET_BYTES} bytes of random data are required (got ${bytes.length}); generate one with \`openssl rand -base64 32\``)
    if (problem === 'weak') {
      if (production) this.fail(option, 'looks weak (a placeholder, or too little variety to be random); generate one with `openssl rand -base64 32`')
      this.warnings.push(`the session ${option} looks weak (SESSION_SECRET, or the plugin's ${option} option); production would refuse it`)
    }
    return bytes
  }

  origin (option: string, value: unknown): string {
    const canonical = canonicalOrigin(value)
    if (canonical === undefined) this.fail(option, `must be an origin such as https://app.example.com: scheme, lower-case host and port only, no path or trailing slash (got ${describe(value)})`)
    return canonical
  }
}

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value)
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : String(value)
}

const ACCOUNT_METHODS = ['changePassword', 'signUp', 'listUsers', 'getUser', 'createUser', 'setDisabled', 'deleteUser',
  'setRoles', 'setPassword'] as const

const STORE_METHODS = ['revocationMark', 'createFamily', 'rotate', 'listFamilies', 'revokeFamily', 'revokeToken', 'revokeSubject',
  'loadRevocations', 'revocationsSince', 'purgeExpired', 'ping', 'close'] as const

function rateLimits (r: Resolver, value: unknown): RateLimitSettings | false {
  if (value === false) return false
  const defaults = Value.Default(RateLimitSchema, {}) as RateLimitSettings
  if (value === undefined) return defaults
  if (typeof value !== 'object' || value === null || Array.isArray(value)) r.fail('rateLimit', 'must be false or an object of limits')
  const given = value as Record<string, unknown>
  const unknown = Object.keys(given).filter((key) => !(key in RateLimitSchema.properties))
  if (unknown.length > 0) r.fail('rateLimit', `has unknown keys: ${unknown.join(', ')}`)
  for (const [key, schema] of Object.entries(RateLimitSchema.properties)) {
    if (given[key] !== undefined && !Value.Check(schema, given[key])) r.fail(`rateLimit.${key}`, `must be ${expectation(schema)} (got ${describe(given[key])})`)
  }
  return { ...defaults, ...given } as RateLimitSettings
}

/**
 * Checks the options and fills in the defaults. `naming` words the messages (the standalone service names its
 * environment variables); every rule, production's included, lives here once.
 */
export function resolveOptions (options: SessionPluginOptions, naming: OptionNaming = PLUGIN_NAMING): ResolvedOptions {
  const r = new Resolver(naming)
  const given = options as unknown as Record<string, unknown>
  const production = r.value(given, 'production')
  const secret = r.secret('secret', options.secret, production)
  const previous = options.previousSecrets ?? []
  if (!Array.isArray(previous)) r.fail('previousSecrets', 'must be an array')
  const previousSecrets = previous.map((s, i) => r.secret(`previousSecrets[${i}]`, s, production))

  const store = options.store
  if (typeof store !== 'object' || store === null || !STORE_METHODS.every((m) => typeof store[m] === 'function')) {
    r.fail('store', 'must implement the SessionStore interface (MemorySessionStore, SqliteSessionStore or RedisSessionStore)')
  }
  if (typeof options.verifyCredentials !== 'function') r.fail('verifyCredentials', 'must be a function (username, password) => Promise<user | null>')
  if (options.findUser !== undefined && typeof options.findUser !== 'function') r.fail('findUser', 'must be a function (id) => Promise<user | null>')
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') r.fail('clock', 'must be a function returning milliseconds since the epoch')
  const redis = options.redis
  if (redis !== undefined && (typeof redis !== 'object' || redis === null || typeof redis.defineCommand !== 'function')) {
    r.fail('redis', 'must be an ioredis client')
  }

  const metricsRegistry = options.metricsRegistry
  if (metricsRegistry !== undefined && (typeof metricsRegistry !== 'object' || metricsRegistry === null || typeof metricsRegistry.registerMetric !== 'function')) {
    r.fail('metricsRegistry', 'must be a prom-client Registry (new Registry(), or prom-client\'s default `register`)')
  }

  const accounts = options.accounts
  if (accounts !== undefined && (typeof accounts !== 'object' || accounts === null || !ACCOUNT_METHODS.every((m) => typeof accounts[m] === 'function'))) {
    r.fail('accounts', `must implement the Accounts interface (${ACCOUNT_METHODS.join(', ')}), like the built-in UserDirectory`)
  }
  const signup = r.value(given, 'signup')
  if (signup === 'open' && accounts === undefined) r.fail('signup', 'can be "open" only with the accounts option (a user directory to create accounts in)')

  const accessTtlSeconds = r.value(given, 'accessTtlSeconds')
  const refreshIdleTtlSeconds = r.value(given, 'refreshIdleTtlSeconds')
  const sessionMaxAgeSeconds = r.value(given, 'sessionMaxAgeSeconds')
  const refreshReuseGraceSeconds = r.value(given, 'refreshReuseGraceSeconds')
  if (refreshIdleTtlSeconds < accessTtlSeconds) r.fail('refreshIdleTtlSeconds', `must be at least ${r.mention('accessTtlSeconds')} (${accessTtlSeconds})`)
  if (sessionMaxAgeSeconds < accessTtlSeconds) r.fail('sessionMaxAgeSeconds', `must be at least ${r.mention('accessTtlSeconds')} (${accessTtlSeconds})`)
  if (refreshReuseGraceSeconds >= accessTtlSeconds) r.fail('refreshReuseGraceSeconds', `must be shorter than ${r.mention('accessTtlSeconds')} (${accessTtlSeconds})`)

  const cookieSecure = r.value(given, 'cookieSecure')
  if (!cookieSecure && production) r.fail('cookieSecure', 'cannot be false in production: session cookies would travel over plain http')
  if (!cookieSecure) r.warnings.push('cookies are not Secure (COOKIE_SECURE=false): for plain-http development only')

  if (options.trustedOrigins !== undefined && !Array.isArray(options.trustedOrigins)) r.fail('trustedOrigins', 'must be an array of origins')
  const trustedOrigins = new Set((options.trustedOrigins ?? []).map((o, i) => r.origin(`trustedOrigins[${i}]`, o)))
  const publicOrigin = r.value(given, 'publicOrigin')

  const loginUrl = r.value(given, 'loginUrl')
  if (loginUrl !== '' && checkLoginUrl(loginUrl) === undefined) r.fail('loginUrl', `must be an http(s) URL without credentials or a path starting with one / (got ${describe(loginUrl)})`)
  const isTrustedProxy = options.isTrustedProxy ?? (() => false)
  if (typeof isTrustedProxy !== 'function') r.fail('isTrustedProxy', 'must be a function (address) => boolean')
  const cookieDomain = r.value(given, 'cookieDomain').replace(/^\./, '')
  const assertionHeader = r.value(given, 'assertionHeader').toLowerCase()

  const stalenessDefault = store.waitForRevocations === undefined ? 0 : 5
  return {
    secret,
    previousSecrets,
    store,
    verifyCredentials: options.verifyCredentials,
    findUser: options.findUser,
    clock,
    redis,
    production,
    prefix: r.value(given, 'prefix'),
    issuer: r.value(given, 'issuer'),
    audience: r.value(given, 'audience'),
    accessTtlSeconds,
    refreshIdleTtlSeconds,
    sessionMaxAgeSeconds,
    refreshReuseGraceSeconds,
    clockLeewaySeconds: r.value(given, 'clockLeewaySeconds'),
    cookieSecure,
    trustedOrigins,
    publicOrigin: publicOrigin === '' ? undefined : r.origin('publicOrigin', publicOrigin),
    cors: r.value(given, 'cors'),
    securityHeaders: r.value(given, 'securityHeaders'),
    routes: r.value(given, 'routes'),
    rateLimit: rateLimits(r, options.rateLimit),
    verifiedTokenCacheSize: r.value(given, 'verifiedTokenCacheSize'),
    revocationPollIntervalMs: r.value(given, 'revocationPollIntervalMs'),
    maxStalenessSeconds: given['maxStalenessSeconds'] === undefined ? stalenessDefault : r.value(given, 'maxStalenessSeconds'),
    redisKeyPrefix: r.value(given, 'redisKeyPrefix'),
    accounts,
    adminRole: r.value(given, 'adminRole'),
    reauthMaxAgeSeconds: r.value(given, 'reauthMaxAgeSeconds'),
    signup,
    requestDecorator: r.value(given, 'requestDecorator'),
    csrfDecorator: r.value(given, 'csrfDecorator'),
    forwardAuth: r.value(given, 'forwardAuth'),
    identityHeaders: identityHeaderList(r.value(given, 'identityHeaders')),
    assertionHeader: assertionHeader === '' ? undefined : assertionHeader,
    assertionTtlSeconds: r.value(given, 'assertionTtlSeconds'),
    loginUrl: loginUrl === '' ? undefined : loginUrl,
    redirectHosts: r.value(given, 'redirectHosts'),
    cookieDomain: cookieDomain === '' ? undefined : cookieDomain,
    isTrustedProxy,
    metricsRegistry,
    tracing: r.value(given, 'tracing'),
    traceAccessCheckRatio: r.value(given, 'traceAccessCheckRatio'),
    warnings: r.warnings
  }
}
