/**
 * The session plugin: register it and your app gets the auth routes, a typed `request.session` and an
 * `app.requireSession` preHandler (everything also under `app.statelessSession`). See docs/plugin.md.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { trace, type Tracer } from '@opentelemetry/api'
import { cookiePolicy, MAX_COOKIE_BYTES, readCookie, type CookiePolicy } from './cookies.js'
import { csrfProtection, type CsrfProtection } from './csrf.js'
import { Denylist } from '../session/denylist.js'
import { InvalidOptionError, SESSION_INVALID_BODY, SessionStoreStaleError, errorBody } from '../common/errors.js'
import { resolveOptions, type SessionPluginOptions } from './plugin-options.js'
import { recentAuthGuard, type RequireRecentAuth } from './recent-auth.js'
import { RevocationSync } from '../session/revocation-sync.js'
import { authRoutes } from './routes/auth-routes.js'
import { forwardAuthRoutes } from './routes/forward-auth-routes.js'
import { IdentityAssertions } from '../session/identity-assertions.js'
import { AssertionKeys } from '../tokens/assertion-keys.js'
import type { SessionService, SessionInfo } from '../session/session-service.js'
import { ObservedSessionService } from '../session/observed-session-service.js'
import { observedStore, storeName } from '../session/observed-store.js'
import { SessionCounters } from '../session/session-counters.js'
import type { SessionStore } from '../stores/session-store.js'
import type { SessionMetrics } from './metrics.js'
import { registerJws } from '../tokens/jws.js'
import { KeyRing } from '../tokens/keys.js'
import type { SecondFactorStore } from '../users/user-store.js'
import { TokenCodec } from '../tokens/token-codec.js'
import { TotpService } from '../users/totp.js'

export type { SessionPluginOptions } from './plugin-options.js'
export type { RecentAuthOptions, RequireRecentAuth } from './recent-auth.js'

/**
 * Names of the decorators that could collide with other plugins (`request.session` with @fastify/session and
 * @fastify/secure-session, `app.csrfProtection` with @fastify/csrf-protection). Renamed at run time with the
 * `requestDecorator` and `csrfDecorator` options, and for TypeScript by augmenting this interface:
 *
 *     declare module 'fastify-stateless-session' {
 *       interface StatelessSessionNames { request: 'auth', csrf: 'sessionCsrf' }
 *     }
 *
 * Then `request.auth`, `request.authStale` and `app.sessionCsrf` are typed instead.
 */
export interface StatelessSessionNames {}
type RequestName = StatelessSessionNames extends { request: infer N extends string } ? N : 'session'
type CsrfName = StatelessSessionNames extends { csrf: infer N extends string } ? N : 'csrfProtection'

export type RequireSession = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** The request's session under its configured name (`request.session` by default). */
export type SessionRequestFields = {
  /** The verified session of this request, or null. Read-only: worked out from the access cookie when first read. */
  readonly [K in RequestName]: SessionInfo | null
} & {
  /**
   * True when the request carried a valid access token that cannot be vouched for because the revocation
   * view is stale (the shared store has been unreachable too long): the session is then null, and
   * `requireSession` answers 503 ERR_SESSION_STORE_STALE instead of 401.
   */
  readonly [K in `${RequestName}Stale`]: boolean
}

/** The cross-site check under its configured name (`app.csrfProtection` by default). */
export type SessionCsrfFields = {
  /**
   * onRequest hook refusing cross-site requests (403 ERR_CSRF_REJECTED), as on the auth routes; GET, HEAD
   * and OPTIONS pass. Add it to your own state-changing routes: `{ onRequest: app.csrfProtection }`.
   */
  readonly [K in CsrfName]: CsrfProtection
}

/** Everything the plugin adds, under one name that never collides: `app.statelessSession`. */
export interface StatelessSessionApi {
  /** The session service: login, refresh, logout, revocation (for custom routes and admin tools). */
  readonly service: SessionService
  readonly cookies: CookiePolicy
  /** The revocation sync, for readiness checks. */
  readonly revocations: RevocationSync
  readonly csrfProtection: CsrfProtection
  readonly requireSession: RequireSession
  /** preHandler factory: a session whose user authenticated at most N seconds ago (docs/plugin.md, "Recent authentication"). */
  readonly requireRecentAuth: RequireRecentAuth
  /** The session of a request, whatever the request decorator is called. */
  sessionOf: (request: FastifyRequest) => SessionInfo | null
  /** True when the request's valid token cannot be vouched for (see `request.sessionStale`). */
  isStale: (request: FastifyRequest) => boolean
  /**
   * A signed identity assertion (EdDSA JWS, docs/upstreams.md) of the request's session for `audience` (the
   * host of the service it is meant for), or null without a session. For calling an internal service on the
   * user's behalf; it verifies it against `GET /.well-known/jwks.json` (or `jwks`).
   */
  signedIdentity: (request: FastifyRequest, audience: string) => string | null
  /** The public keys that verify signed identities: `{ keys: [...] }`, a JWKS. */
  readonly jwks: { keys: unknown[] }
}

declare module 'fastify' {
  interface FastifyInstance extends SessionCsrfFields {
    statelessSession: StatelessSessionApi
    /** The session service: login, refresh, logout, revocation (for custom routes and admin tools). */
    sessions: SessionService
    /** preHandler that answers 401 (the standard body) unless the request carries a valid session. */
    requireSession: RequireSession
    /**
     * `app.requireRecentAuth(maxAgeSeconds?, { amr? })`: a preHandler answering 401 ERR_REAUTH_REQUIRED (RFC 9470
     * challenge) unless the session's user authenticated at most `maxAgeSeconds` ago (default `reauthMaxAgeSeconds`).
     */
    requireRecentAuth: RequireRecentAuth
    /** Cookie names and attributes in use. */
    sessionCookies: CookiePolicy
    /** The revocation sync, for readiness checks. */
    sessionRevocations: RevocationSync
  }
  interface FastifyRequest extends SessionRequestFields {}
}

/** The outcome of a request's access check: its session, no session, or a valid token that cannot be vouched for. */
type SessionCheck = SessionInfo | 'none' | 'stale'
/** Per request, the access check once done (null until `request.session` or `request.sessionStale` is read). */
const kSessionCheck = Symbol('sessionCheck')

const SESSION_INVALID_JSON = JSON.stringify(SESSION_INVALID_BODY)
const STORE_STALE_ERROR = new SessionStoreStaleError()
const SESSION_STALE_JSON = JSON.stringify(errorBody(503, STORE_STALE_ERROR.code, STORE_STALE_ERROR.message))

async function sessionPlugin (fastify: FastifyInstance, options: SessionPluginOptions): Promise<void> {
  const o = resolveOptions(options)
  const fail = (option: string, problem: string): never => { throw new InvalidOptionError(`session plugin option "${option}" ${problem}`) }
  for (const warning of o.warnings) fastify.log.warn(warning)

  const ring = new KeyRing({
    current: o.secret,
    previous: o.previousSecrets,
    maxLifetime: { access: o.accessTtlSeconds, refresh: o.refreshIdleTtlSeconds },
    leewaySeconds: o.clockLeewaySeconds
  })
  const codec = new TokenCodec({
    ring,
    jws: await registerJws(fastify, ring),
    rules: {
      issuer: o.issuer,
      audience: o.audience,
      lifetime: { access: o.accessTtlSeconds, refresh: o.refreshIdleTtlSeconds },
      maxAge: o.sessionMaxAgeSeconds,
      leeway: o.clockLeewaySeconds
    }
  })
  const denylist = new Denylist()
  // Counting is always on (plain numbers, session-counters.ts); metrics and tracing read and add to it.
  const counters = new SessionCounters()
  const tracer: Tracer | undefined = o.tracing ? trace.getTracer('fastify-stateless-session') : undefined
  const metrics: SessionMetrics | undefined = o.metricsRegistry === undefined
    ? undefined
    : (await import('./metrics.js')).registerMetrics(o.metricsRegistry, { counters, sync: (): RevocationSync => sync, store: storeName(o.store) })
  // The store is measured only when something reads the measures.
  const store: SessionStore = metrics === undefined && tracer === undefined
    ? o.store
    : observedStore(o.store, { name: storeName(o.store), counters, observe: metrics?.observeStore, tracer })
  const sync: RevocationSync = new RevocationSync({
    store,
    denylist,
    clock: o.clock,
    log: fastify.log,
    leeway: o.clockLeewaySeconds,
    pollIntervalMs: o.revocationPollIntervalMs,
    purgeIntervalMs: 60_000,
    maxStalenessMs: o.maxStalenessSeconds * 1000
  })
  const policy = cookiePolicy(o.cookieSecure, o.prefix, o.cookieDomain)
  const service: SessionService = new ObservedSessionService({
    codec,
    store,
    denylist,
    clock: o.clock,
    lifetimes: { accessTtl: o.accessTtlSeconds, refreshIdleTtl: o.refreshIdleTtlSeconds, maxAge: o.sessionMaxAgeSeconds, grace: o.refreshReuseGraceSeconds, leeway: o.clockLeewaySeconds },
    verifyCredentials: o.verifyCredentials,
    findUser: o.findUser,
    verifiedTokenCacheSize: o.verifiedTokenCacheSize,
    isStale: () => sync.stale,
    maxTokenLength: MAX_COOKIE_BYTES - Math.max(policy.access.name.length, policy.refresh.name.length)
  }, { counters, tracer })

  // Every live revocation is in memory before the first request is served.
  await sync.start()
  fastify.addHook('onClose', async () => { await sync.stop() })

  const requestName = o.requestDecorator
  const staleName = `${requestName}Stale`
  for (const name of [requestName, staleName]) {
    if (fastify.hasRequestDecorator(name)) {
      fail('requestDecorator', `"${requestName}": request.${name} is already decorated by another plugin (@fastify/session and @fastify/secure-session use request.session); choose another name, e.g. requestDecorator: 'auth', and declare it for TypeScript (docs/plugin.md)`)
    }
  }
  if (fastify.hasDecorator(o.csrfDecorator)) {
    fail('csrfDecorator', `"${o.csrfDecorator}": app.${o.csrfDecorator} is already decorated by another plugin (@fastify/csrf-protection uses csrfProtection); choose another name, e.g. csrfDecorator: 'sessionCsrf' (docs/plugin.md)`)
  }
  fastify.decorate('sessions', service)
  fastify.decorate('sessionCookies', policy)
  fastify.decorate('sessionRevocations', sync)
  // `request.session` is worked out the first time it is read, not in an onRequest hook: a route that never
  // looks at it (a public page, a health check) pays nothing, and a protected one does the check once. An
  // onRequest hook on every route cost a few per cent of a warm protected request (`npm run bench`).
  const accessName = policy.access.name
  // With tracing, a sample of access checks get a span (they run on every protected request).
  const traceRatio = tracer === undefined ? 0 : o.traceAccessCheckRatio
  const authenticate = (token: string): ReturnType<SessionService['authenticate']> => {
    if (traceRatio === 0 || Math.random() >= traceRatio) return service.authenticate(token)
    const span = (tracer as Tracer).startSpan('session.access_check')
    const result = service.authenticate(token)
    span.setAttribute('session.result', typeof result === 'string' ? result : 'valid')
    span.end()
    return result
  }
  fastify.decorateRequest(kSessionCheck, null)
  const checkOf = (request: FastifyRequest): SessionCheck => {
    const slot = request as unknown as Record<typeof kSessionCheck, SessionCheck | null>
    let check = slot[kSessionCheck]
    if (check === null) {
      check = 'none'
      const token = readCookie(request.headers.cookie, accessName)
      if (token !== undefined) {
        const result = authenticate(token)
        if (result === 'stale') check = 'stale'
        else if (typeof result === 'string') request.log.debug({ reason: result }, 'access cookie rejected')
        else check = result
      }
      slot[kSessionCheck] = check
    }
    return check
  }
  const sessionOf = (request: FastifyRequest): SessionInfo | null => {
    const check = checkOf(request)
    return typeof check === 'string' ? null : check
  }
  const isStale = (request: FastifyRequest): boolean => checkOf(request) === 'stale'
  const csrf = csrfProtection({ publicOrigin: o.publicOrigin, trustedOrigins: o.trustedOrigins }, sessionOf)
  fastify.decorateRequest(requestName, { getter (this: FastifyRequest) { return sessionOf(this) } })
  fastify.decorateRequest(staleName, { getter (this: FastifyRequest) { return isStale(this) } })

  const requireSession: RequireSession = function requireSession (request, reply, done) {
    const check = checkOf(request)
    if (typeof check !== 'string') {
      done()
      return
    }
    reply.code(check === 'stale' ? 503 : 401)
      .header('cache-control', 'no-store')
      .header('content-type', 'application/json; charset=utf-8')
      .send(check === 'stale' ? SESSION_STALE_JSON : SESSION_INVALID_JSON)
  }
  fastify.decorate('requireSession', requireSession)
  const requireRecentAuth = recentAuthGuard({ clock: o.clock, defaultMaxAge: o.reauthMaxAgeSeconds, sessionOf, isStale })
  fastify.decorate('requireRecentAuth', requireRecentAuth)
  fastify.decorate(o.csrfDecorator, csrf)
  const assertions = new IdentityAssertions({
    keys: new AssertionKeys(o.secret, o.previousSecrets),
    clock: o.clock,
    issuer: o.publicOrigin ?? o.issuer,
    ttlSeconds: o.assertionTtlSeconds,
    cacheSize: o.verifiedTokenCacheSize
  })
  const signedIdentity = (request: FastifyRequest, audience: string): string | null => {
    if (typeof audience !== 'string' || audience === '') throw new TypeError('signedIdentity needs the audience: the host of the service the assertion is for')
    const session = sessionOf(request)
    return session === null ? null : assertions.assertionFor(session, audience)
  }
  fastify.decorate('statelessSession', Object.freeze({ service, cookies: policy, revocations: sync, csrfProtection: csrf, requireSession, requireRecentAuth, sessionOf, isStale, signedIdentity, jwks: assertions.jwks }))

  if (o.routes) {
    await fastify.register(authRoutes, {
      prefix: o.prefix,
      service,
      policy,
      trustedOrigins: o.trustedOrigins,
      cors: o.cors,
      securityHeaders: o.securityHeaders,
      cookieSecure: o.cookieSecure,
      rateLimit: o.rateLimit,
      clock: o.clock,
      redis: o.redis,
      redisKeyPrefix: o.redisKeyPrefix,
      accounts: o.accounts,
      adminRole: o.adminRole,
      signup: o.signup,
      counters,
      onResponse: metrics?.onResponse,
      accessTtl: o.accessTtlSeconds,
      secondFactor: secondFactorOf(o)
    })
  }
  if (o.routes && o.forwardAuth) {
    await fastify.register(forwardAuthRoutes, {
      authPrefix: o.prefix,
      identityHeaders: o.identityHeaders,
      assertionHeader: o.assertionHeader,
      assertions,
      loginUrl: o.loginUrl,
      redirectHosts: o.redirectHosts,
      cookieSecure: o.cookieSecure,
      isTrustedProxy: o.isTrustedProxy,
      isStoreUnavailable: service.isStoreUnavailable,
      onResponse: metrics?.onResponse
    })
  }
}

/** TOTP over the user directory's second-factor storage, when it has one; its secrets sealed under the session secret. */
function secondFactorOf (o: ReturnType<typeof resolveOptions>): { totp: TotpService, store: SecondFactorStore } | undefined {
  const store = o.accounts?.secondFactorStore
  if (store === undefined) return undefined
  return { store, totp: new TotpService({ store, secret: o.secret, previousSecrets: o.previousSecrets, clock: o.clock, issuer: o.issuer }) }
}

export default fp(sessionPlugin, { name: 'stateless-session', fastify: '5.x' })
