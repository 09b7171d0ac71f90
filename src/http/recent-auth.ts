/**
 * The freshness guard (ASVS 7.5.1, 7.5.3): a preHandler that lets a request through only when its session's
 * user proved who they are recently enough (`auth_time`), and with the methods the route needs (`amr`).
 * Otherwise 401 with a challenge a client can act on (RFC 9470, "OAuth 2.0 Step Up Authentication
 * Challenge"):
 *
 *     WWW-Authenticate: Bearer error="insufficient_user_authentication",
 *       error_description="A more recent authentication is required", max_age=300
 *
 * or, for a missing method, `acr_values="mfa"`. No I/O: both facts are in the access token.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { seconds, type Clock } from '../common/clock.js'
import { ReauthRequiredError, SESSION_INVALID_BODY, SessionStoreStaleError, StrongerAuthRequiredError } from '../common/errors.js'
import type { SessionInfo } from '../session/session-service.js'
import { audit } from './audit.js'

export type SessionPreHandler = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

export interface RecentAuthOptions {
  /**
   * Methods (RFC 8176 `amr` values) the session's authentication must include, e.g. `['otp']` for a second
   * factor. Missing one: 401 ERR_STRONGER_AUTH_REQUIRED with `acr_values="mfa"`.
   */
  amr?: readonly string[]
}

/**
 * `requireRecentAuth(maxAgeSeconds?, options?)`: a preHandler requiring a session (401 ERR_SESSION_INVALID
 * otherwise, 503 while the revocation view is stale) whose `auth_time` is at most `maxAgeSeconds` old
 * (default: the plugin's `reauthMaxAgeSeconds`).
 */
export type RequireRecentAuth = (maxAgeSeconds?: number, options?: RecentAuthOptions) => SessionPreHandler

/** The `acr_values` we ask for when a method is missing: a password and a second factor. */
export const MFA_ACR = 'mfa'

export interface RecentAuthDeps {
  clock: Clock
  defaultMaxAge: number
  sessionOf: (request: FastifyRequest) => SessionInfo | null
  isStale: (request: FastifyRequest) => boolean
}

function challenge (reply: FastifyReply, description: string, parameter: string): void {
  reply.header('www-authenticate', `Bearer error="insufficient_user_authentication", error_description="${description}", ${parameter}`)
}

export function recentAuthGuard (deps: RecentAuthDeps): RequireRecentAuth {
  return function requireRecentAuth (maxAgeSeconds = deps.defaultMaxAge, options = {}) {
    if (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 0) throw new TypeError(`requireRecentAuth: maxAgeSeconds must be a non-negative integer (got ${String(maxAgeSeconds)})`)
    const required = [...(options.amr ?? [])]
    return function recentAuth (request, reply, done) {
      const session = deps.sessionOf(request)
      if (session === null) {
        if (deps.isStale(request)) {
          done(new SessionStoreStaleError())
          return
        }
        reply.code(401).header('cache-control', 'no-store').header('content-type', 'application/json; charset=utf-8').send(SESSION_INVALID_BODY)
        return
      }
      const refused = (reason: string): void => {
        audit(request.log, 'reauth.required', { userId: session.user.id, familyId: session.id, reason, method: request.method, route: request.routeOptions.url })
      }
      if (!required.every((method) => session.amr.includes(method))) {
        refused('second-factor')
        challenge(reply, 'An authentication with a second factor is required', `acr_values="${MFA_ACR}", max_age=${maxAgeSeconds}`)
        done(new StrongerAuthRequiredError())
        return
      }
      if (seconds(deps.clock) - session.authTime > maxAgeSeconds) {
        refused('max-age')
        challenge(reply, 'A more recent authentication is required', `max_age=${maxAgeSeconds}`)
        done(new ReauthRequiredError())
        return
      }
      done()
    }
  }
}

/** Applies `guard` except when `skip` says the request needs no more than a session (ending one's own session, say). */
export function guardUnless (skip: (request: FastifyRequest, session: SessionInfo) => boolean, guard: SessionPreHandler, sessionOf: (request: FastifyRequest) => SessionInfo | null): SessionPreHandler {
  return function maybeGuard (request, reply, done) {
    const session = sessionOf(request)
    if (session !== null && skip(request, session)) done()
    else guard(request, reply, done)
  }
}
