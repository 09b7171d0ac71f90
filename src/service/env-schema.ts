/**
 * The one configuration schema of the standalone service. Settings the session plugin also has are not
 * written again here: they are the plugin's option schemas (src/http/plugin-options.ts), mapped to their
 * variable names (`ENV_OPTIONS`), so a default or a range lives in one place. config.ts validates the
 * environment against it (env-schema); `.env.example` and docs/configuration.md are generated from it
 * (`npm run docs:config`) and a test keeps all three in step.
 */
import { Type, type Static, type TSchema } from 'typebox'
import { PluginOptionsSchema, RateLimitSchema, REDIS_KEY_PREFIX_PATTERN } from '../http/plugin-options.js'

/** Comma-separated list in the environment, an array at run time (env-schema's `separator` keyword). */
const List = (description: string) =>
  Type.Unsafe<string[]>({ type: 'string', default: '', separator: ',', description })

const O = PluginOptionsSchema.properties
const R = RateLimitSchema.properties

/** A plugin option's schema with a note in front of its description (when it applies, say). */
function noted<T extends TSchema> (schema: T, note: string): T {
  return { ...schema, description: `${note} ${(schema as { description?: string }).description ?? ''}` }
}

/** Environment variable -> the plugin option it sets (`rateLimit.x` for a limit). */
export const ENV_OPTIONS: Readonly<Record<string, string>> = {
  SESSION_SECRET: 'secret',
  SESSION_PREVIOUS_SECRETS: 'previousSecrets',
  TOKEN_ISSUER: 'issuer',
  TOKEN_AUDIENCE: 'audience',
  ACCESS_TTL_SECONDS: 'accessTtlSeconds',
  REFRESH_IDLE_TTL_SECONDS: 'refreshIdleTtlSeconds',
  SESSION_MAX_AGE_SECONDS: 'sessionMaxAgeSeconds',
  REFRESH_REUSE_GRACE_SECONDS: 'refreshReuseGraceSeconds',
  CLOCK_LEEWAY_SECONDS: 'clockLeewaySeconds',
  COOKIE_SECURE: 'cookieSecure',
  AUTH_PREFIX: 'prefix',
  PUBLIC_ORIGIN: 'publicOrigin',
  TRUSTED_ORIGINS: 'trustedOrigins',
  RATE_LIMIT_LOGIN_ACCOUNT_MAX: 'rateLimit.loginAccountMax',
  RATE_LIMIT_LOGIN_IP_MAX: 'rateLimit.loginIpMax',
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: 'rateLimit.loginWindowSeconds',
  RATE_LIMIT_REFRESH_IP_MAX: 'rateLimit.refreshIpMax',
  RATE_LIMIT_REFRESH_WINDOW_SECONDS: 'rateLimit.refreshWindowSeconds',
  RATE_LIMIT_SIGNUP_IP_MAX: 'rateLimit.signupIpMax',
  RATE_LIMIT_SIGNUP_WINDOW_SECONDS: 'rateLimit.signupWindowSeconds',
  RATE_LIMIT_SECOND_FACTOR_ACCOUNT_MAX: 'rateLimit.secondFactorAccountMax',
  RATE_LIMIT_SECOND_FACTOR_IP_MAX: 'rateLimit.secondFactorIpMax',
  RATE_LIMIT_SECOND_FACTOR_WINDOW_SECONDS: 'rateLimit.secondFactorWindowSeconds',
  ADMIN_ROLE: 'adminRole',
  REAUTH_MAX_AGE_SECONDS: 'reauthMaxAgeSeconds',
  SIGNUP: 'signup',
  REDIS_KEY_PREFIX: 'redisKeyPrefix',
  REDIS_MAX_STALENESS_SECONDS: 'maxStalenessSeconds',
  FORWARD_AUTH: 'forwardAuth',
  IDENTITY_HEADERS: 'identityHeaders',
  ASSERTION_HEADER: 'assertionHeader',
  ASSERTION_TTL_SECONDS: 'assertionTtlSeconds',
  LOGIN_URL: 'loginUrl',
  REDIRECT_HOSTS: 'redirectHosts',
  COOKIE_DOMAIN: 'cookieDomain',
  TRACING: 'tracing',
  TRACE_ACCESS_CHECK_RATIO: 'traceAccessCheckRatio',
  NODE_ENV: 'production'
}

export const envSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: '`production` turns on the strict checks: a strong SESSION_SECRET is required and COOKIE_SECURE=false is refused.'
  }),
  HOST: Type.String({ default: 'localhost', minLength: 1, description: 'Interface the standalone service listens on.' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'TCP port of the standalone service.' }),
  WORKERS: Type.String({
    default: '1',
    pattern: '^(auto|[1-9][0-9]{0,2})$',
    description: 'Processes serving the one port (node:cluster): a number, or `auto` for one per core. Each is the whole service over the same store: SQLite (the file is shared; each process enforces the others\' revocations within about 10 ms) or Redis; not `memory`.'
  }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
    default: 'info',
    description: 'pino log level. Audit events are logged at `info` (security events at `warn`).'
  }),
  SESSION_SECRET: Type.String({
    default: '',
    description: 'Master secret (at least 32 characters of random data, e.g. `openssl rand -base64 32`). All token keys are derived from it with HKDF. Empty outside production: one is generated into DATA_DIR/session-secret (mode 0600) and reused. Required in production.'
  }),
  SESSION_PREVIOUS_SECRETS: List('Comma-separated earlier secrets still accepted during a rotation; tokens under them are re-issued under SESSION_SECRET at their next refresh.'),
  TOKEN_ISSUER: O.issuer,
  TOKEN_AUDIENCE: O.audience,
  ACCESS_TTL_SECONDS: O.accessTtlSeconds,
  REFRESH_IDLE_TTL_SECONDS: O.refreshIdleTtlSeconds,
  SESSION_MAX_AGE_SECONDS: O.sessionMaxAgeSeconds,
  REFRESH_REUSE_GRACE_SECONDS: O.refreshReuseGraceSeconds,
  CLOCK_LEEWAY_SECONDS: O.clockLeewaySeconds,
  COOKIE_SECURE: O.cookieSecure,
  AUTH_PREFIX: O.prefix,
  PUBLIC_ORIGIN: O.publicOrigin,
  TRUSTED_ORIGINS: List(`Comma-separated list. ${(O.trustedOrigins as { description?: string }).description ?? ''}`),
  TRUST_PROXY: List('Comma-separated IP addresses or CIDR ranges (or `loopback`, `linklocal`, `uniquelocal`) of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are believed. Empty: none; the client IP is the socket peer. Ranges covering every address (`/0`) are refused.'),
  RATE_LIMIT_LOGIN_ACCOUNT_MAX: R.loginAccountMax,
  RATE_LIMIT_LOGIN_IP_MAX: R.loginIpMax,
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: R.loginWindowSeconds,
  RATE_LIMIT_REFRESH_IP_MAX: R.refreshIpMax,
  RATE_LIMIT_REFRESH_WINDOW_SECONDS: R.refreshWindowSeconds,
  RATE_LIMIT_SIGNUP_IP_MAX: R.signupIpMax,
  RATE_LIMIT_SIGNUP_WINDOW_SECONDS: R.signupWindowSeconds,
  RATE_LIMIT_SECOND_FACTOR_ACCOUNT_MAX: R.secondFactorAccountMax,
  RATE_LIMIT_SECOND_FACTOR_IP_MAX: R.secondFactorIpMax,
  RATE_LIMIT_SECOND_FACTOR_WINDOW_SECONDS: R.secondFactorWindowSeconds,
  ADMIN_ROLE: noted(O.adminRole, 'The built-in user directory\'s admin role.'),
  SIGNUP: O.signup,
  FORWARD_AUTH: O.forwardAuth,
  IDENTITY_HEADERS: Type.Unsafe<string[]>({ type: 'string', default: 'oauth2-proxy,authelia', separator: ',', description: `Comma-separated list. ${(O.identityHeaders as { description?: string }).description ?? ''}` }),
  ASSERTION_HEADER: O.assertionHeader,
  ASSERTION_TTL_SECONDS: O.assertionTtlSeconds,
  LOGIN_URL: O.loginUrl,
  REDIRECT_HOSTS: List(`Comma-separated list. ${(O.redirectHosts as { description?: string }).description ?? ''}`),
  COOKIE_DOMAIN: O.cookieDomain,
  REAUTH_MAX_AGE_SECONDS: O.reauthMaxAgeSeconds,
  STORE: Type.Union([Type.Literal('sqlite'), Type.Literal('memory'), Type.Literal('redis')], {
    default: 'sqlite',
    description: 'Where rotations, revocations and users live: `sqlite` (embedded, durable, the default; one instance), `redis` (shared by several instances, see docs/deployment.md) or `memory` (tests and demos: lost on restart).'
  }),
  DATA_DIR: Type.String({ default: './data', minLength: 1, description: 'Directory of the SQLite database and of the generated development secret.' }),
  REDIS_URL: Type.String({
    default: 'redis://localhost:6379',
    pattern: '^rediss?://',
    description: 'With STORE=redis: the Redis server (6.2 or later), `redis://[[user]:password@]host:port[/db]`, or `rediss://` for TLS. Every instance must use the same server, database and REDIS_KEY_PREFIX. Give it AOF persistence (docs/deployment.md).'
  }),
  REDIS_SENTINELS: List('With STORE=redis: comma-separated `host:port` of the Redis Sentinels; the service then connects to the primary they name (REDIS_SENTINEL_NAME) and follows it through failovers. REDIS_URL then gives only the password, TLS (`rediss://`) and database of the data nodes; its host is ignored. See docs/deployment.md, "Redis Sentinel".'),
  REDIS_SENTINEL_NAME: Type.String({
    default: 'mymaster',
    minLength: 1,
    description: 'With REDIS_SENTINELS: the name of the monitored primary (`sentinel monitor <name> ...` in sentinel.conf).'
  }),
  REDIS_SENTINEL_PASSWORD: Type.String({
    default: '',
    description: 'With REDIS_SENTINELS: the Sentinels\' own password (`requirepass` in sentinel.conf). Empty: none.'
  }),
  REDIS_CLUSTER_NODES: List('With STORE=redis: comma-separated `host:port` of some nodes of a Redis Cluster (the others are discovered). REDIS_URL then gives only the password and TLS; REDIS_KEY_PREFIX must not contain braces. See docs/deployment.md, "Redis Cluster".'),
  REDIS_WAIT_REPLICAS: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 16,
    description: 'With STORE=redis: replicas every login, refresh, logout and revocation must reach (Redis `WAIT`) before it is answered; a write not confirmed within half of REDIS_COMMAND_TIMEOUT_MS is answered 503 ERR_STORE_UNAVAILABLE. 0: answered once the primary applied it (a failover can lose the last writes). With Sentinel, 1 means an acknowledged logout survives the failover. See docs/deployment.md.'
  }),
  REDIS_KEY_PREFIX: Type.String({
    default: 'session:',
    pattern: REDIS_KEY_PREFIX_PATTERN,
    description: 'With STORE=redis: prefix of the keys of sessions, revocations, users and rate-limit counters (`<prefix>rate-limit:...`), so several deployments can share one Redis.'
  }),
  REDIS_MAX_STALENESS_SECONDS: noted({ ...O.maxStalenessSeconds, default: 5 }, 'With STORE=redis, default 5:'),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    default: 1000,
    minimum: 50,
    maximum: 60000,
    description: 'With STORE=redis: a Redis command without an answer after this long fails, and the request answers 503 ERR_STORE_UNAVAILABLE instead of hanging.'
  }),
  METRICS_PORT: Type.String({
    default: '',
    pattern: '^([0-9]{1,5})?$',
    description: 'Port of the Prometheus metrics listener (`GET /metrics`, docs/operations.md), apart from the public port, which never serves metrics. Empty: no metrics. Must differ from PORT; 0 picks a free port (tests).'
  }),
  METRICS_HOST: Type.String({
    default: '127.0.0.1',
    minLength: 1,
    description: 'Interface of the metrics listener. Loopback by default: expose it only to your Prometheus (the metrics say how many logins fail, not who).'
  }),
  TRACING: noted(O.tracing, 'Also traces every HTTP request with @fastify/otel (continuing a W3C `traceparent`).'),
  TRACE_ACCESS_CHECK_RATIO: O.traceAccessCheckRatio,
  DEMO: Type.Boolean({
    default: false,
    description: '`true` serves the demo page at `/` (a log-in form built on the browser client; needs `npm run build`). With STORE=memory it also creates the user `demo`, with DEMO_PASSWORD or else a random password drawn at each start, shown on the demo page. Refused in production. `npm run demo` starts the service this way.'
  }),
  DEMO_PASSWORD: Type.String({
    default: '',
    description: 'Password of the `demo` user that DEMO=true creates with STORE=memory (the password policy applies: 8 characters or more, not a common password, not containing "demo"). Empty: a random one is drawn at each start; there is no default password.'
  })
})

export type EnvConfig = Static<typeof envSchema>
