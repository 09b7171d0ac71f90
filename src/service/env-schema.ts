/**
 * The one configuration schema. @fastify/env validates the environment against it; `.env.example` and
 * docs/configuration.md are generated from it (`npm run docs:config`) and a test keeps all three in step.
 */
import { Type, type Static } from 'typebox'

/** Comma-separated list in the environment, an array at run time (env-schema's `separator` keyword). */
const List = (description: string) =>
  Type.Unsafe<string[]>({ type: 'string', default: '', separator: ',', description })

export const envSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: '`production` turns on the strict checks: a strong SESSION_SECRET is required and COOKIE_SECURE=false is refused.'
  }),
  HOST: Type.String({ default: 'localhost', minLength: 1, description: 'Interface the standalone service listens on.' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535, description: 'TCP port of the standalone service.' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
    default: 'info',
    description: 'pino log level. Audit events are logged at `info` (security events at `warn`).'
  }),
  SESSION_SECRET: Type.String({
    default: '',
    description: 'Master secret (at least 32 characters of random data, e.g. `openssl rand -base64 32`). All token keys are derived from it with HKDF. Empty outside production: one is generated into DATA_DIR/session-secret (mode 0600) and reused. Required in production.'
  }),
  SESSION_PREVIOUS_SECRETS: List('Comma-separated earlier secrets still accepted during a rotation; tokens under them are re-issued under SESSION_SECRET at their next refresh.'),
  TOKEN_ISSUER: Type.String({ default: 'stateless-session', minLength: 1, maxLength: 256, description: 'The `iss` claim written into and required of every token.' }),
  TOKEN_AUDIENCE: Type.String({ default: 'stateless-session', minLength: 1, maxLength: 256, description: 'The `aud` claim written into and required of every token.' }),
  ACCESS_TTL_SECONDS: Type.Integer({ default: 900, minimum: 10, maximum: 86400, description: 'Lifetime of an access token and its cookie.' }),
  REFRESH_IDLE_TTL_SECONDS: Type.Integer({ default: 604800, minimum: 60, maximum: 31536000, description: 'Lifetime of a refresh token: a session not refreshed for this long ends (idle timeout).' }),
  SESSION_MAX_AGE_SECONDS: Type.Integer({ default: 2592000, minimum: 60, maximum: 31536000, description: 'Absolute session lifetime, counted from login; no refresh extends it.' }),
  REFRESH_REUSE_GRACE_SECONDS: Type.Integer({ default: 10, minimum: 0, maximum: 300, description: 'How long the immediate predecessor of a refresh token may be presented again (parallel tabs) and get the same successor, before it counts as reuse.' }),
  CLOCK_LEEWAY_SECONDS: Type.Integer({ default: 30, minimum: 0, maximum: 300, description: 'Clock skew tolerated on `exp`, `nbf` and `iat`.' }),
  COOKIE_SECURE: Type.Boolean({ default: true, description: '`false` drops the `Secure` attribute and the `__Host-`/`__Secure-` prefixes, for plain-http development on hosts other than localhost. Refused in production.' }),
  AUTH_PREFIX: Type.String({ default: '/auth', pattern: '^(/[A-Za-z0-9._~-]+)+$', description: 'Path prefix of the auth routes; also the Path of the refresh cookie.' }),
  PUBLIC_ORIGIN: Type.String({
    default: '',
    description: 'The origin browsers reach the service at (`https://auth.example.com`: scheme, host and port only). Requests whose `Origin` is this origin are same-origin for the CSRF check. Empty: derived per request from the Host header and protocol (X-Forwarded-Host/-Proto only from TRUST_PROXY). Set it in production.'
  }),
  TRUSTED_ORIGINS: List('Comma-separated origins (`https://app.example.com`) of front ends on the same site that may call the auth routes: they pass the CSRF check with `Sec-Fetch-Site: same-site` and get CORS with credentials. Never `*` or `null`. Empty: only the service\'s own origin.'),
  TRUST_PROXY: List('Comma-separated IP addresses or CIDR ranges (or `loopback`, `linklocal`, `uniquelocal`) of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are believed. Empty: none; the client IP is the socket peer. Ranges covering every address (`/0`) are refused.'),
  RATE_LIMIT_LOGIN_ACCOUNT_MAX: Type.Integer({ default: 10, minimum: 1, maximum: 1_000_000, description: 'Failed logins allowed per account (username, case-insensitive) per window, from all clients together; then 429 until the window ends.' }),
  RATE_LIMIT_LOGIN_IP_MAX: Type.Integer({ default: 100, minimum: 1, maximum: 1_000_000, description: 'Failed logins allowed per client IP address (IPv6: per /64) per window, over all accounts; then 429 until the window ends.' }),
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: Type.Integer({ default: 900, minimum: 1, maximum: 86400, description: 'Length of the login failure window. The window starts at the first failure and is never extended by refused attempts: every limit ends on its own.' }),
  RATE_LIMIT_REFRESH_IP_MAX: Type.Integer({ default: 120, minimum: 1, maximum: 1_000_000, description: 'Refresh requests allowed per client IP address (IPv6: per /64) per refresh window.' }),
  RATE_LIMIT_REFRESH_WINDOW_SECONDS: Type.Integer({ default: 60, minimum: 1, maximum: 86400, description: 'Length of the refresh rate-limit window.' }),
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
  REDIS_KEY_PREFIX: Type.String({
    default: 'session:',
    pattern: '^[A-Za-z0-9:._{}-]{1,64}$',
    description: 'With STORE=redis: prefix of the keys of sessions, revocations, users and rate-limit counters (`<prefix>rate-limit:...`), so several deployments can share one Redis.'
  }),
  REDIS_MAX_STALENESS_SECONDS: Type.Integer({
    default: 5,
    minimum: 1,
    maximum: 300,
    description: 'With STORE=redis: how long an instance keeps accepting access tokens from its in-memory revocation list after it lost contact with Redis. Beyond it, requests that need a session answer 503 ERR_SESSION_STORE_STALE (fail closed) until the instance has caught up with Redis again.'
  }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    default: 1000,
    minimum: 50,
    maximum: 60000,
    description: 'With STORE=redis: a Redis command without an answer after this long fails, and the request answers 503 ERR_STORE_UNAVAILABLE instead of hanging.'
  }),
  DEMO: Type.Boolean({
    default: false,
    description: '`true` serves the demo page at `/` (a log-in form built on the browser client; needs `npm run build`). With STORE=memory it also creates the user `demo`, with DEMO_PASSWORD or else a random password drawn at each start, shown on the demo page. Refused in production. `npm run demo` starts the service this way.'
  }),
  DEMO_PASSWORD: Type.String({
    default: '',
    description: 'Password of the `demo` user that DEMO=true creates with STORE=memory (8 characters or more). Empty: a random one is drawn at each start; there is no default password.'
  })
})

export type EnvConfig = Static<typeof envSchema>
