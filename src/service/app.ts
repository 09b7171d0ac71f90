/**
 * The standalone service: configuration from the environment (config.ts), the configured store, the
 * built-in user directory and the session plugin. Builds the instance and never listens (server.ts does).
 */
import fastifyEnv from '@fastify/env'
import { randomBytes } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Registry } from 'prom-client'
import { systemClock, type Clock } from '../common/clock.js'
import { ENV_OPTIONS, envSchema, type EnvConfig } from './env-schema.js'
import { loadConfig } from './config.js'
import { prepareDataDir } from './data-dir.js'
import { resolveSecret } from './secrets.js'
import { compileTrustProxy, type TrustProxy } from './trust-proxy.js'
import { requestIds } from './request-ids.js'
import { errorHandlerFor } from '../http/error-handler.js'
import { clientErrorHandler, frameworkErrorHandler, type PreRouteSettings } from '../http/framework-errors.js'
import { unmatchedResponses } from '../http/metrics.js'
import { cookiePolicy } from '../http/cookies.js'
import { errorBody, InvalidOptionError, RouteNotFoundError } from '../common/errors.js'
import { DEFAULT_ASSETS_DIR, demoRoutes } from './demo/demo-routes.js'
import { registerOpenApi } from './openapi.js'
import sessionPlugin from '../http/plugin.js'
import { resolveOptions, type OptionNaming, type SessionPluginOptions } from '../http/plugin-options.js'
import { healthRoutes } from './health-routes.js'
import { securityHeaders, setSecurityHeaders } from '../http/security-headers.js'
import { MemorySessionStore } from '../stores/memory-session-store.js'
import { openStores } from './open-stores.js'
import { OWASP_ARGON2ID, PasswordHasher, type PasswordHashCost } from '../users/password-hasher.js'
import { UserDirectory } from '../users/user-directory.js'
import { checkMetricsConfig, prepareMetrics } from './metrics-server.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: EnvConfig
    /** The built-in user directory (standalone service only). */
    users: UserDirectory
    /** The service's metrics registry with METRICS_PORT set, served by listenMetrics (metrics-server.ts); else undefined. */
    metricsRegistry: Registry | undefined
  }
}

export interface BuildAppOptions {
  /** Environment variables to configure from; server.ts passes process.env, tests pass plain data. */
  env?: Record<string, string | undefined>
  /** Also read a `.env` file from the working directory (values in `env` win). */
  dotenv?: boolean
  /** Fastify's `logger` option; off by default. */
  logger?: FastifyServerOptions['logger']
  /** Tests move time with it. */
  clock?: Clock
  /** argon2id cost; OWASP's by default. Tests lower it to run fast. */
  passwordHashCost?: PasswordHashCost
  /** Where DEMO=true finds the compiled browser code; the package's dist/ by default. */
  demoAssetsDir?: string
  /** The session plugin's `verifiedTokenCacheSize` (default 10000; 0 turns the cache off). */
  verifiedTokenCacheSize?: number
}

const OPTION_ENV = new Map(Object.entries(ENV_OPTIONS).map(([env, option]) => [option, env]))

/** Plugin options named as the environment variables that set them. */
const ENV_NAMING: OptionNaming = {
  subject (option) {
    const entry = /^(\w+)\[(\d+)\]$/.exec(option)
    if (entry !== null) return `${OPTION_ENV.get(entry[1] as string) ?? option} entry ${Number(entry[2]) + 1}`
    return OPTION_ENV.get(option) ?? `session plugin option "${option}"`
  },
  mention: (option) => OPTION_ENV.get(option) ?? option
}

/** The session plugin's data options, from the configuration. */
function pluginSettings (config: EnvConfig, options: BuildAppOptions): Omit<SessionPluginOptions, 'secret' | 'store' | 'verifyCredentials'> {
  return {
    prefix: config.AUTH_PREFIX,
    issuer: config.TOKEN_ISSUER,
    audience: config.TOKEN_AUDIENCE,
    accessTtlSeconds: config.ACCESS_TTL_SECONDS,
    refreshIdleTtlSeconds: config.REFRESH_IDLE_TTL_SECONDS,
    sessionMaxAgeSeconds: config.SESSION_MAX_AGE_SECONDS,
    refreshReuseGraceSeconds: config.REFRESH_REUSE_GRACE_SECONDS,
    clockLeewaySeconds: config.CLOCK_LEEWAY_SECONDS,
    cookieSecure: config.COOKIE_SECURE,
    production: config.NODE_ENV === 'production',
    trustedOrigins: config.TRUSTED_ORIGINS.filter((o) => o !== ''),
    publicOrigin: config.PUBLIC_ORIGIN,
    rateLimit: {
      loginAccountMax: config.RATE_LIMIT_LOGIN_ACCOUNT_MAX,
      loginIpMax: config.RATE_LIMIT_LOGIN_IP_MAX,
      loginWindowSeconds: config.RATE_LIMIT_LOGIN_WINDOW_SECONDS,
      refreshIpMax: config.RATE_LIMIT_REFRESH_IP_MAX,
      refreshWindowSeconds: config.RATE_LIMIT_REFRESH_WINDOW_SECONDS,
      signupIpMax: config.RATE_LIMIT_SIGNUP_IP_MAX,
      signupWindowSeconds: config.RATE_LIMIT_SIGNUP_WINDOW_SECONDS,
      secondFactorAccountMax: config.RATE_LIMIT_SECOND_FACTOR_ACCOUNT_MAX,
      secondFactorIpMax: config.RATE_LIMIT_SECOND_FACTOR_IP_MAX,
      secondFactorWindowSeconds: config.RATE_LIMIT_SECOND_FACTOR_WINDOW_SECONDS
    },
    adminRole: config.ADMIN_ROLE,
    signup: config.SIGNUP,
    forwardAuth: config.FORWARD_AUTH,
    identityHeaders: config.IDENTITY_HEADERS.map((h) => h.trim()).filter((h) => h !== ''),
    assertionHeader: config.ASSERTION_HEADER,
    assertionTtlSeconds: config.ASSERTION_TTL_SECONDS,
    loginUrl: config.LOGIN_URL,
    redirectHosts: config.REDIRECT_HOSTS.map((h) => h.trim()).filter((h) => h !== ''),
    cookieDomain: config.COOKIE_DOMAIN,
    tracing: config.TRACING,
    traceAccessCheckRatio: config.TRACE_ACCESS_CHECK_RATIO,
    reauthMaxAgeSeconds: config.REAUTH_MAX_AGE_SECONDS,
    ...(options.verifiedTokenCacheSize === undefined ? {} : { verifiedTokenCacheSize: options.verifiedTokenCacheSize }),
    ...(config.STORE === 'redis' ? { maxStalenessSeconds: config.REDIS_MAX_STALENESS_SECONDS, redisKeyPrefix: config.REDIS_KEY_PREFIX } : {})
  }
}

/** A random demo password the password policy accepts (it must not contain the username). */
function randomDemoPassword (): string {
  for (;;) {
    const password = randomBytes(12).toString('base64url')
    if (!password.toLowerCase().includes(DEMO_USERNAME)) return password
  }
}

/** The user DEMO=true creates in a memory store; its password is shown on the demo page. */
export const DEMO_USERNAME = 'demo'

export async function buildApp (options: BuildAppOptions = {}): Promise<FastifyInstance> {
  // Fastify needs trustProxy before the configuration is read: it gets a function that consults TRUST_PROXY
  // once compiled below, and trusts no one until then.
  let trustProxy: TrustProxy = () => false
  // What the answers given before any route need: filled in below from the configuration (and the metrics, once
  // registered), before any request can arrive.
  const preRoute: PreRouteSettings = { cookieSecure: true, isTrustedProxy: () => false, countResponse: undefined }
  const app = Fastify({
    logger: options.logger ?? false,
    // Request ids never come from the client: they go into audit lines. Ours are unique across the workers of
    // WORKERS=n and across restarts (Fastify's req-1, req-2... repeat in each): request-ids.ts.
    requestIdHeader: false,
    genReqId: requestIds(),
    return503OnClosing: true,
    trustProxy: (address: string, hop: number) => trustProxy(address, hop),
    // What Fastify's router and Node's parser refuse before any route (an over-long id, bad percent-encoding,
    // oversized headers) is answered in our error shape with our headers, not theirs (framework-errors.ts).
    // Both run only once requests arrive, after the configuration below is read.
    frameworkErrors: frameworkErrorHandler(preRoute),
    clientErrorHandler: clientErrorHandler(preRoute)
  }).withTypeProvider<TypeBoxTypeProvider>()

  // One fixed body: Fastify's own names the method and path, text chosen by the client.
  const notFound = new RouteNotFoundError()
  const notFoundBody = errorBody(404, notFound.code, notFound.message)
  app.setNotFoundHandler(async (request, reply) => {
    setSecurityHeaders(request, reply, app.config.COOKIE_SECURE)
    return await reply.code(404).header('cache-control', 'no-store').send(notFoundBody)
  })

  // Checked first by loadConfig, for one clear line per wrong variable; then @fastify/env (the same env-schema
  // engine) reads the same data into app.config, as every Fastify app built on it does.
  loadConfig({ env: options.env ?? {}, dotenv: options.dotenv ?? false })
  await app.register(fastifyEnv, { schema: structuredClone(envSchema), data: { ...options.env }, env: false, dotenv: options.dotenv ?? false })
  const config = app.config
  trustProxy = compileTrustProxy(config.TRUST_PROXY)
  preRoute.cookieSecure = config.COOKIE_SECURE
  preRoute.isTrustedProxy = (address) => trustProxy(address, 0)
  if (options.logger !== undefined && options.logger !== false) app.log.level = config.LOG_LEVEL
  const production = config.NODE_ENV === 'production'
  const clock = options.clock ?? systemClock
  if (config.DEMO && production) {
    throw new InvalidOptionError('DEMO=true is refused when NODE_ENV=production: the demo page and its demo user are for development')
  }

  // Where DATA_DIR is used (the SQLite file, the generated development secret), a directory that cannot be
  // written stops the boot with one line naming it, not a raw ENOTDIR or EACCES later.
  if (config.STORE === 'sqlite' || (config.SESSION_SECRET === '' && !production)) prepareDataDir(config.DATA_DIR)
  const { secret, previous, generatedAt } = resolveSecret({
    configured: config.SESSION_SECRET,
    previous: config.SESSION_PREVIOUS_SECRETS,
    production,
    dataDir: config.DATA_DIR
  })
  if (generatedAt !== undefined) app.log.warn(`SESSION_SECRET is not set: using the development secret kept in ${generatedAt}`)

  checkMetricsConfig(config)
  const settings = pluginSettings(config, options)
  // Checked before anything is opened, with each wrong setting named by its environment variable; the plugin
  // checks again when it registers. Every rule, production's included, lives in plugin-options.ts.
  // (SIGNUP needs the user directory, opened below; its value was checked by the environment schema.)
  resolveOptions({ ...settings, signup: 'closed', secret, previousSecrets: previous, store: new MemorySessionStore(), verifyCredentials: async () => null }, ENV_NAMING)

  const stores = await openStores(config)
  const isStoreUnavailable = stores.sessions.isUnavailableError?.bind(stores.sessions)
  app.setErrorHandler(errorHandlerFor(isStoreUnavailable))
  // Runs after the session plugin's own onClose (hooks run last-registered first): its revocation feed stops
  // before the connections close.
  app.addHook('onClose', async () => { await stores.close() })
  app.log.info({ store: config.STORE, location: stores.location }, 'session store opened')
  for (const warning of stores.warnings) app.log.warn(warning)

  const users = new UserDirectory({
    users: stores.users,
    hasher: new PasswordHasher(options.passwordHashCost ?? OWASP_ARGON2ID),
    clock,
    // Through the session plugin (registered below; the directory ends no session before): the revocation is
    // recorded in the store for every instance, and reaches this instance's denylist at once.
    endSessions: async (userId) => { await app.sessions.endUserSessions(userId) }
  })
  app.decorate('users', users)
  // A user whose password is on the page, so only where nothing outlives the process.
  // No default password, even for the demo: DEMO_PASSWORD, or a random one drawn now.
  const demoUser = config.DEMO && config.STORE === 'memory'
    ? { username: DEMO_USERNAME, password: config.DEMO_PASSWORD === '' ? randomDemoPassword() : config.DEMO_PASSWORD }
    : undefined
  // The demo user is an admin, so the demo page shows the admin view too.
  if (demoUser !== undefined) {
    try {
      await users.add(demoUser.username, demoUser.password, [config.ADMIN_ROLE])
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_PASSWORD_POLICY') throw error
      throw new InvalidOptionError(`DEMO_PASSWORD is refused by the password policy: ${(error as Error).message.replace(/^Password refused: /, '')}`)
    }
  }

  if (config.TRACING) {
    // HTTP spans (the official instrumentation), before any route so that it sees them all. It continues a W3C
    // traceparent through the propagator of the SDK the operator registered (docs/operations.md).
    const { FastifyOtelInstrumentation } = await import('@fastify/otel')
    await app.register(new FastifyOtelInstrumentation().plugin())
  }
  const metricsRegistry = prepareMetrics(app)

  // Before every route: it collects them as they are registered.
  await registerOpenApi(app, { production, cookieSecure: config.COOKIE_SECURE, authPrefix: config.AUTH_PREFIX, cookies: cookiePolicy(config.COOKIE_SECURE, config.AUTH_PREFIX, config.COOKIE_DOMAIN === '' ? undefined : config.COOKIE_DOMAIN.replace(/^\./, '')) })

  await app.register(sessionPlugin, {
    ...settings,
    secret,
    previousSecrets: previous,
    store: stores.sessions,
    verifyCredentials: async (username, password) => await users.verifyCredentials(username, password),
    findUser: async (id) => await users.findUser(id),
    // The account and admin routes, over the built-in directory.
    accounts: users,
    // Forward-auth believes X-Original-* and X-Forwarded-* from the same proxies as the client address.
    isTrustedProxy: (address) => trustProxy(address, 0),
    clock,
    ...(metricsRegistry === undefined ? {} : { metricsRegistry }),
    // With STORE=redis the rate-limit counters live in the same Redis: every instance counts together.
    ...(stores.redis === undefined ? {} : { redis: stores.redis })
  })
  if (metricsRegistry !== undefined) preRoute.countResponse = unmatchedResponses(metricsRegistry)
  await app.register(async function healthScope (scope) {
    scope.addHook('onSend', securityHeaders(config.COOKIE_SECURE))
    await scope.register(healthRoutes, { store: stores.sessions })
  })
  if (config.DEMO) {
    await app.register(demoRoutes, { assetsDir: options.demoAssetsDir ?? DEFAULT_ASSETS_DIR, authPrefix: config.AUTH_PREFIX, adminRole: config.ADMIN_ROLE, demoUser })
    app.log.warn(`DEMO=true: the demo page is served at /${demoUser === undefined ? '' : ` (user ${demoUser.username}; the page shows its password)`}`)
  }
  return app
}
