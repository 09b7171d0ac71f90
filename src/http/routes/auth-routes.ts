/**
 * The auth routes, mounted under the prefix (default /auth). JSON in and out; tokens only ever travel in
 * Set-Cookie, never in a body. Every answer carries `Cache-Control: no-store` and the security headers;
 * every state-changing route refuses cross-site requests before reading its body (csrf.ts); login and
 * refresh are rate-limited (rate-limits.ts); CORS answers only the trusted origins (cors.ts).
 */
import fastifyCookie from '@fastify/cookie'
import fastifyCors from '@fastify/cors'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Redis } from 'ioredis'
import { audit } from '../audit.js'
import type { Clock } from '../../common/clock.js'
import { clearSessionCookies, readCookie, setSessionCookies, type CookiePolicy } from '../cookies.js'
import { corsOptions } from '../cors.js'
import { InvalidCredentialsError, RateLimitedError, SESSION_INVALID_BODY, SessionNotFoundError, SessionStoreStaleError, ValidationError } from '../../common/errors.js'
import { errorHandlerFor } from '../error-handler.js'
import { NO_RATE_LIMITS, registerRateLimits, type RateLimitBlock, type RateLimitSettings } from '../rate-limits.js'
import { securityHeaders } from '../security-headers.js'
import type { IssuedSession, SessionInfo, SessionService } from '../../session/session-service.js'
import { ErrorBody, LoginBody, NoContent, SessionBody, SessionIdParams, SessionList, type SessionJson } from '../../wire/schemas.js'

export interface AuthRoutesOptions {
  service: SessionService
  policy: CookiePolicy
  trustedOrigins: ReadonlySet<string>
  cors: boolean
  securityHeaders: boolean
  cookieSecure: boolean
  rateLimit: RateLimitSettings | false
  clock: Clock
  redis: Redis | undefined
  redisKeyPrefix: string
}

/** Longest body any auth route accepts: a login with the longest username and password fits easily. */
const BODY_LIMIT = 8192
const MAX_USER_AGENT = 256

function iso (epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString()
}

export function sessionBody (info: SessionInfo): SessionJson {
  return {
    user: { id: info.user.id, username: info.user.username, roles: [...info.user.roles] },
    session: {
      id: info.id,
      accessExpiresAt: iso(info.accessExpiresAt),
      refreshExpiresAt: iso(info.refreshExpiresAt),
      absoluteExpiresAt: iso(info.absoluteExpiresAt)
    }
  }
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 415: ErrorBody, 429: ErrorBody, 500: ErrorBody, 503: ErrorBody }

/**
 * preValidation hook of the routes that take no input: a body, when one is sent at all, must be an empty JSON
 * object, so nothing is ever parsed and then left unvalidated.
 */
function noBody (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const body = request.body
  if (body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0)) {
    done()
    return
  }
  done(new ValidationError('This route takes no request body (at most an empty JSON object)'))
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async function authRoutes (fastify, options) {
  const { service, policy } = options
  fastify.setErrorHandler(errorHandlerFor(service.isStoreUnavailable))
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
  const limits = options.rateLimit === false
    ? NO_RATE_LIMITS
    : await registerRateLimits(fastify, { settings: options.rateLimit, clock: options.clock, redis: options.redis, keyPrefix: options.redisKeyPrefix })
  const { csrfProtection: csrf, requireSession, sessionOf, isStale } = fastify.statelessSession

  function refuseRateLimited (reply: FastifyReply, blocked: RateLimitBlock): never {
    reply.header('retry-after', String(blocked.retryAfter))
    throw new RateLimitedError()
  }

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

  function sendSession (reply: FastifyReply, issued: IssuedSession): ReturnType<typeof sessionBody> {
    setSessionCookies(reply, policy, issued.access, issued.refresh)
    return sessionBody(issued.info)
  }

  function refuseSession (reply: FastifyReply, clear: boolean): FastifyReply {
    if (clear) clearSessionCookies(reply, policy)
    return reply.code(401).send(SESSION_INVALID_BODY)
  }

  fastify.post('/login', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    schema: {
      summary: 'Log in: sets the access and refresh cookies',
      body: LoginBody,
      response: { 200: SessionBody, 413: ErrorBody, ...errors }
    }
  }, async function login (request, reply) {
    // Any session cookie sent along is ignored: a login always starts a new family (no session fixation).
    const userAgent = request.headers['user-agent']?.slice(0, MAX_USER_AGENT) ?? null
    const { username, password } = request.body
    const outcome = await limits.login(request, async () => await service.login(username, password, userAgent))
    if ('blocked' in outcome) {
      audit(request.log, 'login.rate_limited', { username, scope: outcome.blocked.scope, ip: request.ip })
      refuseRateLimited(reply, outcome.blocked)
    }
    const issued = outcome.result
    if (issued === null) {
      audit(request.log, 'login.failed', { username })
      throw new InvalidCredentialsError()
    }
    audit(request.log, 'login.succeeded', { userId: issued.info.user.id, familyId: issued.info.id })
    return sendSession(reply, issued)
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
      audit(request.log, 'refresh.failed', { reason: 'missing' })
      return refuseSession(reply, true)
    }
    const result = await service.refresh(token)
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
    preHandler: requireSession,
    schema: {
      summary: 'End every session of the current user',
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
    const sessions = await service.listSessions(sessionOf(request) as SessionInfo)
    return {
      sessions: sessions.map((s) => ({
        id: s.id,
        createdAt: iso(s.createdAt),
        lastRefreshedAt: iso(s.lastRefreshedAt),
        userAgent: s.userAgent,
        current: s.current
      }))
    }
  })

  fastify.delete('/sessions/:id', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    preHandler: requireSession,
    schema: {
      summary: 'End one session of the current user; ending the current one also clears its cookies',
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
}
