/**
 * The auth routes, mounted under the prefix (default /auth). JSON in and out; tokens only ever travel in
 * Set-Cookie, never in a body. Every answer carries `Cache-Control: no-store` and the security headers;
 * every state-changing route refuses cross-site requests before reading its body (csrf.ts); login and
 * refresh are rate-limited (rate-limits.ts); CORS answers only the trusted origins (cors.ts).
 */
import fastifyCookie from '@fastify/cookie'
import fastifyCors from '@fastify/cors'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Cluster, Redis } from 'ioredis'
import type { FastifyReply, FastifyRequest } from 'fastify'

import { audit } from '../audit.js'
import type { Clock } from '../../common/clock.js'
import { clearSessionCookies, isCookieRepeated, readCookie, type CookiePolicy } from '../cookies.js'
import { corsOptions } from '../cors.js'
import { InvalidCredentialsError, SessionNotFoundError, SessionStoreStaleError } from '../../common/errors.js'
import { strictValidatorCompiler } from '../strict-validation.js'
import { errorHandlerFor } from '../error-handler.js'
import { countedLimits, NO_RATE_LIMITS, registerRateLimits, type RateLimitSettings } from '../rate-limits.js'
import { securityHeaders } from '../security-headers.js'
import type { LoginResult, SessionInfo, SessionService } from '../../session/session-service.js'
import type { SessionCounters } from '../../session/session-counters.js'
import type { Accounts } from '../../users/accounts.js'
import { EndedBody, ErrorBody, LoginAnswer, LoginBody, NoContent, SessionBody, SessionIdParams, SessionList } from '../../wire/schemas.js'
import { accountRoutes } from './account-routes.js'
import { storeFailuresAs503 } from './accounts-guard.js'
import { adminRoutes } from './admin-routes.js'
import { reauthRoutes } from './reauth-routes.js'
import { statusRoutes } from './status-routes.js'
import { mfaRoutes, twoStepLogin, type SecondFactorDeps } from './mfa-routes.js'
import { guardUnless } from '../recent-auth.js'
import { BODY_LIMIT, clientInfo, errorResponses as errors, noBody, refuseRateLimited, sessionBody, sessionList, sessionReplies } from './route-kit.js'

export { sessionBody } from './route-kit.js'

export interface AuthRoutesOptions {
  service: SessionService
  policy: CookiePolicy
  trustedOrigins: ReadonlySet<string>
  cors: boolean
  securityHeaders: boolean
  cookieSecure: boolean
  rateLimit: RateLimitSettings | false
  clock: Clock
  redis: Redis | Cluster | undefined
  redisKeyPrefix: string
  /** A user directory: adds the account routes (password change, sign-up) and the admin routes. */
  accounts: Accounts | undefined
  adminRole: string
  signup: 'closed' | 'open'
  /** Where rate-limit refusals are counted. */
  counters: SessionCounters
  /** With metrics on: counts the answers of these routes (in their scope only, so the app's routes pay nothing). */
  onResponse?: ((request: FastifyRequest, reply: FastifyReply, done: () => void) => void) | undefined
  /** TOTP and where second factors live: adds the two-step login, enrolment and the code at re-authentication. */
  secondFactor: SecondFactorDeps | undefined
  accessTtl: number
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async function authRoutes (fastify, options) {
  const { service, policy } = options
  fastify.setErrorHandler(errorHandlerFor(service.isStoreUnavailable))
  fastify.setValidatorCompiler(strictValidatorCompiler)
  if (options.onResponse !== undefined) fastify.addHook('onResponse', options.onResponse)
  fastify.addSchema(ErrorBody)

  if (!fastify.hasReplyDecorator('setCookie')) {
    // Only these routes set cookies, so @fastify/cookie lives in their context: its onSend hook then costs
    // nothing on the app's own routes (about 3% of a protected request, `npm run bench`, warm route). Parsing
    // is ours (exact names, duplicates refused; see cookies.ts), so its per-request parsing hook is off.
    await fastify.register(fastifyCookie, { hook: false })
  }

  if (options.securityHeaders) fastify.addHook('onSend', securityHeaders(options.cookieSecure))
  if (options.cors && options.trustedOrigins.size > 0) {
    if (fastify.hasRequestDecorator('corsPreflightEnabled')) {
      fastify.log.warn('@fastify/cors is registered by the app: it, not the session plugin, answers CORS on the auth routes')
    } else {
      await fastify.register(fastifyCors, corsOptions(options.trustedOrigins))
    }
  }
  const limits = countedLimits(options.rateLimit === false
    ? NO_RATE_LIMITS
    : await registerRateLimits(fastify, { settings: options.rateLimit, clock: options.clock, redis: options.redis, keyPrefix: options.redisKeyPrefix }), options.counters.rateLimited)
  const { csrfProtection: csrf, requireSession, requireRecentAuth, sessionOf, isStale } = fastify.statelessSession
  // The sensitive routes need a recent authentication (reauthMaxAgeSeconds; docs/security.md, "Re-authentication").
  const recentAuth = requireRecentAuth()
  const replies = sessionReplies(policy)
  const sendSession = replies.send
  const refuseSession = replies.refuse
  // The user store behind the second factors failing (unreachable, closed) is a 503, as for the accounts.
  const secondFactor = options.secondFactor === undefined ? undefined : { totp: storeFailuresAs503(options.secondFactor.totp), store: storeFailuresAs503(options.secondFactor.store) }
  const twoStep = secondFactor === undefined ? undefined : twoStepLogin({ ...secondFactor, policy, clock: options.clock, accessTtl: options.accessTtl })

  // Bodies are JSON only: text/plain, forms and multipart get 415 (no parser). An empty body is allowed
  // (refresh and logout need none), and Fastify's parser keeps its __proto__/constructor poisoning guards.
  fastify.removeAllContentTypeParsers()
  const parseJson = fastify.getDefaultJsonParser('error', 'error')
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    if (body === '') done(null, undefined)
    else parseJson(request, body as string, done)
  })

  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })

  fastify.post('/login', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    schema: {
      summary: 'Log in: sets the access and refresh cookies; for a user with a second factor, answers { secondFactorRequired: true } and a pending-login cookie instead',
      body: LoginBody,
      response: { 200: LoginAnswer, 413: ErrorBody, ...errors }
    }
  }, async function login (request, reply) {
    // Any session cookie sent along is ignored: a login always starts a new family (no session fixation).
    const { username, password } = request.body
    let refusal: LoginResult | undefined
    const outcome = await limits.login(request, async () => {
      const result = await service.login(username, password, clientInfo(request), twoStep?.needsSecondFactor)
      if (result.status === 'issued' || result.status === 'second-factor') return result
      refusal = result
      return null
    })
    if ('blocked' in outcome) {
      audit(request.log, 'login.rate_limited', { username, scope: outcome.blocked.scope, ip: request.ip })
      refuseRateLimited(reply, outcome.blocked)
    }
    const issued = outcome.result
    if (issued === null) {
      // Refused after a credential change raced with it: the credentials it checked are no longer valid, so
      // the answer is the same as for wrong ones.
      audit(request.log, 'login.failed', { username, reason: refusal?.status === 'refused' ? refusal.reason : 'credentials' })
      throw new InvalidCredentialsError()
    }
    if (issued.status === 'second-factor') return await (twoStep as NonNullable<typeof twoStep>).hold(request, reply, issued)
    audit(request.log, 'login.succeeded', { userId: issued.session.info.user.id, familyId: issued.session.info.id })
    return sendSession(reply, issued.session)
  })

  fastify.post('/refresh', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    schema: {
      summary: 'Rotate both tokens; 401 (and both cookies cleared) for a missing, invalid, expired, revoked or reused refresh token',
      response: { 200: SessionBody, ...errors }
    }
  }, async function refresh (request, reply) {
    const blocked = await limits.refresh(request)
    if (blocked !== undefined) {
      audit(request.log, 'refresh.rate_limited', { scope: blocked.scope, ip: request.ip })
      refuseRateLimited(reply, blocked)
    }
    const token = readCookie(request.headers.cookie, policy.refresh.name)
    if (token === undefined) {
      // Two refresh cookies: one may be planted. Refused, but nothing is cleared, so the genuine one survives
      // (clearing would delete ours and keep the planted `Domain=` one).
      const repeated = isCookieRepeated(request.headers.cookie, policy.refresh.name)
      audit(request.log, 'refresh.failed', { reason: repeated ? 'repeated-cookie' : 'missing' })
      return refuseSession(reply, !repeated)
    }
    const result = await service.refresh(token, request.ip)
    switch (result.status) {
      case 'issued':
        audit(request.log, 'refresh.succeeded', {
          userId: result.session.info.user.id,
          familyId: result.session.info.id,
          generation: result.generation,
          replayed: result.replayed
        })
        return sendSession(reply, result.session)
      case 'reuse':
        audit(request.log, 'refresh.reuse_detected', { userId: result.userId, familyId: result.familyId })
        return refuseSession(reply, true)
      case 'invalid':
        audit(request.log, 'refresh.failed', { reason: result.reason, userId: result.userId, familyId: result.familyId })
        return refuseSession(reply, true)
    }
  })

  fastify.post('/logout', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    schema: {
      summary: 'Log out: revokes the access token and its whole session; 204 even without a session',
      response: { 204: NoContent, ...errors }
    }
  }, async function logout (request, reply) {
    const ended = await service.logout(
      readCookie(request.headers.cookie, policy.access.name),
      readCookie(request.headers.cookie, policy.refresh.name)
    )
    if (ended !== null) audit(request.log, 'logout', ended)
    clearSessionCookies(reply, policy)
    return reply.code(204).send(null)
  })

  fastify.post('/logout-all', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    preHandler: recentAuth,
    schema: {
      summary: 'End every session of the current user (needs a recent authentication)',
      response: { 204: NoContent, ...errors }
    }
  }, async function logoutAll (request, reply) {
    const session = sessionOf(request) as SessionInfo
    const sessionsEnded = await service.logoutAll(session)
    audit(request.log, 'logout_all', { userId: session.user.id, familyId: session.id, sessionsEnded })
    clearSessionCookies(reply, policy)
    return reply.code(204).send(null)
  })

  fastify.get('/session', {
    schema: {
      summary: 'The current session',
      response: { 200: SessionBody, ...errors }
    }
  }, async function currentSession (request, reply) {
    if (isStale(request)) throw new SessionStoreStaleError()
    const session = sessionOf(request)
    if (session === null) return refuseSession(reply, false)
    return sessionBody(session)
  })

  fastify.get('/sessions', {
    preHandler: requireSession,
    schema: {
      summary: 'The live sessions of the current user',
      response: { 200: SessionList, ...errors }
    }
  }, async function listSessions (request) {
    return sessionList(await service.listSessions(sessionOf(request) as SessionInfo))
  })

  fastify.delete('/sessions', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    preHandler: [recentAuth],
    schema: {
      summary: 'End every other session of the current user, in one call; the current one lives on (needs a recent authentication)',
      response: { 200: EndedBody, ...errors }
    }
  }, async function endOtherSessions (request) {
    const session = sessionOf(request) as SessionInfo
    const ended = await service.endOtherSessions(session)
    audit(request.log, 'sessions.others_ended', { userId: session.user.id, familyId: session.id, sessionsEnded: ended })
    return { ended }
  })

  fastify.delete('/sessions/:id', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    // Ending one's own current session is a logout; ending another one needs a recent authentication.
    preHandler: guardUnless((request, session) => (request.params as { id: string }).id === session.id, recentAuth, sessionOf),
    schema: {
      summary: 'End one session of the current user; ending the current one also clears its cookies (another one needs a recent authentication)',
      params: SessionIdParams,
      response: { 204: NoContent, 404: ErrorBody, ...errors }
    }
  }, async function endSession (request, reply) {
    const session = sessionOf(request) as SessionInfo
    if (!await service.endSession(session, request.params.id)) throw new SessionNotFoundError()
    audit(request.log, 'session.ended', { userId: session.user.id, familyId: request.params.id, current: request.params.id === session.id })
    if (request.params.id === session.id) clearSessionCookies(reply, policy)
    return reply.code(204).send(null)
  })

  await fastify.register(statusRoutes, { policy })
  await fastify.register(reauthRoutes, { service, policy, replies, limits, secondFactor: secondFactor?.totp })
  if (secondFactor !== undefined) await fastify.register(mfaRoutes, { ...secondFactor, service, policy, replies, limits, clock: options.clock })
  if (options.accounts !== undefined) {
    const shared = { service, replies, limits, accounts: storeFailuresAs503(options.accounts) }
    await fastify.register(accountRoutes, { ...shared, signup: options.signup, secondFactor: secondFactor?.totp })
    await fastify.register(adminRoutes, { ...shared, prefix: '/admin', adminRole: options.adminRole, secondFactor })
  }
}
