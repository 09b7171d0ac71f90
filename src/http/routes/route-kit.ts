/** What the auth, account and admin routes share: body limits, the session body, refusals, the client's identity. */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { RateLimitedError, SESSION_INVALID_BODY, ValidationError } from '../../common/errors.js'
import type { ClientInfo, IssuedSession, LiveSession, SessionInfo } from '../../session/session-service.js'
import { ErrorBody, type SessionJson, type SessionListJson } from '../../wire/schemas.js'
import { clearSessionCookies, setSessionCookies, type CookiePolicy } from '../cookies.js'
import type { RateLimitBlock } from '../rate-limits.js'

/** Longest body any auth route accepts: a login with the longest username and password fits easily. */
export const BODY_LIMIT = 8192
const MAX_USER_AGENT = 256

/** The error answers every route may give, for the response schemas (and so OpenAPI). */
export const errorResponses = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 415: ErrorBody, 429: ErrorBody, 500: ErrorBody, 503: ErrorBody }

export function iso (epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString()
}

export function sessionBody (info: SessionInfo): SessionJson {
  return {
    user: { id: info.user.id, username: info.user.username, roles: [...info.user.roles] },
    session: {
      id: info.id,
      accessExpiresAt: iso(info.accessExpiresAt),
      refreshExpiresAt: iso(info.refreshExpiresAt),
      absoluteExpiresAt: iso(info.absoluteExpiresAt),
      // Only when the app gave some: the body of a session without claims stays as it always was.
      ...(info.claims === undefined || Object.keys(info.claims).length === 0 ? {} : { claims: { ...info.claims } as Record<string, string | number | boolean> })
    }
  }
}

/** Who is asking: the user agent (capped) and the address, after the app's trusted-proxy rules (`request.ip`). */
export function clientInfo (request: FastifyRequest): ClientInfo {
  return { userAgent: request.headers['user-agent']?.slice(0, MAX_USER_AGENT) ?? null, address: request.ip }
}

/**
 * preValidation hook of the routes that take no input: a body, when one is sent at all, must be an empty JSON
 * object, so nothing is ever parsed and then left unvalidated.
 */
export function noBody (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const body = request.body
  if (body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0)) {
    done()
    return
  }
  done(new ValidationError('This route takes no request body (at most an empty JSON object)'))
}

export function refuseRateLimited (reply: FastifyReply, blocked: RateLimitBlock): never {
  reply.header('retry-after', String(blocked.retryAfter))
  throw new RateLimitedError()
}

/** Answers that set or clear the session cookies. */
export interface SessionReplies {
  /** Sets both cookies; the session body to answer with. */
  send: (reply: FastifyReply, issued: IssuedSession) => ReturnType<typeof sessionBody>
  /** 401 with the one session body, clearing both cookies when `clear`. */
  refuse: (reply: FastifyReply, clear: boolean) => FastifyReply
}

export function sessionReplies (policy: CookiePolicy): SessionReplies {
  return {
    send (reply, issued) {
      setSessionCookies(reply, policy, issued.access, issued.refresh)
      return sessionBody(issued.info)
    },
    refuse (reply, clear) {
      if (clear) clearSessionCookies(reply, policy)
      return reply.code(401).send(SESSION_INVALID_BODY)
    }
  }
}

/** The session list of a user, on the wire. */
export function sessionList (sessions: LiveSession[]): SessionListJson {
  return {
    sessions: sessions.map((s) => ({
      id: s.id,
      createdAt: iso(s.createdAt),
      lastSeenAt: iso(s.lastRefreshedAt),
      lastRefreshedAt: iso(s.lastRefreshedAt),
      clientAddress: s.clientAddress,
      userAgent: s.userAgent,
      current: s.current
    }))
  }
}
