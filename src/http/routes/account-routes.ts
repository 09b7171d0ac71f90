/**
 * Self-service account routes, registered inside the auth routes' context (JSON only, CSRF-checked, no-store,
 * security headers) when the plugin is given `accounts`:
 * - POST <prefix>/password: the signed-in user changes their password. Every session of the user ends (other
 *   devices are logged out at once), and this device gets a new session (new cookies, new session id). For a
 *   user with a second factor it needs the factor's code too, as a re-authentication does.
 * - POST <prefix>/signup: only with `signup: 'open'`.
 *
 * preHandlers are arrays, so a stronger check (re-authentication, a second factor) can be added in front of
 * the handler later without touching it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { PasswordPolicyError, PasswordUnchangedError, SecondFactorRequiredError, WrongPasswordError } from '../../common/errors.js'
import { PASSWORD_AMR, type IssuedSession, type LoginResult, type SessionInfo, type SessionService } from '../../session/session-service.js'
import type { Accounts, PasswordChange } from '../../users/accounts.js'
import { describePasswordProblem, passwordProblem } from '../../users/password-policy.js'
import { ChangePasswordBody, ErrorBody, SessionBody, SignupBody } from '../../wire/schemas.js'
import { audit } from '../audit.js'
import type { AuthRateLimits } from '../rate-limits.js'
import type { SecondFactorCheck } from './reauth-routes.js'
import { BODY_LIMIT, clientInfo, errorResponses as errors, refuseRateLimited, type SessionReplies } from './route-kit.js'

export interface AccountRoutesOptions {
  service: SessionService
  accounts: Accounts
  replies: SessionReplies
  limits: AuthRateLimits
  signup: 'closed' | 'open'
  /** The users' second factors, when the accounts have them: a password change then needs the code too. */
  secondFactor: SecondFactorCheck | undefined
}

type Change = { status: 'changed', change: Extract<PasswordChange, { status: 'changed' }>, amr: readonly string[] } | { status: 'code-required' }

export const accountRoutes: FastifyPluginAsyncTypebox<AccountRoutesOptions> = async function accountRoutes (fastify, options) {
  const { service, accounts, replies, limits, secondFactor } = options
  const { csrfProtection: csrf, requireSession, sessionOf } = fastify.statelessSession

  /** A new session for a user who just proved who they are; 401 (cookies cleared) if a change overtook it. */
  async function openSession (request: FastifyRequest, reply: FastifyReply, result: LoginResult): Promise<IssuedSession | undefined> {
    if (result.status === 'issued') return result.session
    audit(request.log, 'login.failed', { reason: result.reason, route: request.routeOptions.url })
    replies.refuse(reply, true)
    return undefined
  }

  fastify.post('/password', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preHandler: [requireSession],
    schema: {
      summary: 'Change the password of the signed-in user: every other session ends; this one is re-issued (new cookies, new session id)',
      body: ChangePasswordBody,
      response: { 200: SessionBody, 413: ErrorBody, ...errors }
    }
  }, async function changePassword (request, reply) {
    const session = sessionOf(request) as SessionInfo
    const { currentPassword, newPassword, code } = request.body
    // A wrong current password (or code) counts as a failed login of this account and client: a stolen session
    // gives no more guesses at the password than the login form does.
    const outcome = await limits.login(request, async (): Promise<Change | null> => {
      let amr = PASSWORD_AMR
      if (secondFactor !== undefined && await secondFactor.isEnrolled(session.user.id)) {
        // The new session counts as a fresh authentication and every other session ends: with the password
        // alone, a stolen session plus a known password would take over an account its second factor protects
        // (and then remove the factor). So the code is asked here as at POST <prefix>/reauth, and only once
        // the password is right; the new password is checked before the code is used up.
        if (!await service.checkPassword(session, currentPassword)) return null
        if (code === undefined) return { status: 'code-required' }
        if (newPassword === currentPassword) throw new PasswordUnchangedError()
        const problem = await passwordProblem(newPassword, session.user.username)
        if (problem !== undefined) throw new PasswordPolicyError(describePasswordProblem(problem))
        if (!await secondFactor.verifyCode(session.user.id, code)) return null
        amr = ['pwd', 'otp']
      } else if (newPassword === currentPassword) {
        // The same password again is no change (other devices logged out, the credential kept). Refused once the
        // current password is verified (a wrong one is a failed attempt, as always), here instead of calling
        // `changePassword`: one argon2 verification either way, and the same answer whatever the user directory.
        if (!await service.checkPassword(session, currentPassword)) return null
        throw new PasswordUnchangedError()
      }
      const change: PasswordChange = await accounts.changePassword(session.user.id, currentPassword, newPassword)
      return change.status === 'changed' ? { status: 'changed', change, amr } : null
    }, session.user.username)
    if ('blocked' in outcome) {
      audit(request.log, 'password.rate_limited', { userId: session.user.id, scope: outcome.blocked.scope, ip: request.ip })
      refuseRateLimited(reply, outcome.blocked)
    }
    if (outcome.result?.status === 'code-required') throw new SecondFactorRequiredError()
    if (outcome.result === null) {
      audit(request.log, 'password.change_failed', { userId: session.user.id, familyId: session.id, reason: 'wrong-password' })
      throw new WrongPasswordError()
    }
    const { change, amr } = outcome.result
    audit(request.log, 'password.changed', { userId: session.user.id, familyId: session.id })
    const issued = await openSession(request, reply, await service.startSession(change.user, clientInfo(request), amr))
    if (issued === undefined) return reply
    audit(request.log, 'login.succeeded', { userId: issued.info.user.id, familyId: issued.info.id, after: 'password.changed' })
    return replies.send(reply, issued)
  })

  if (options.signup === 'open') {
    fastify.post('/signup', {
      bodyLimit: BODY_LIMIT,
      onRequest: csrf,
      // Counted before validation, every attempt: bounds accounts created, and usernames probed, per client.
      preValidation: async function limitSignups (request, reply) {
        const blocked = await limits.signup(request)
        if (blocked !== undefined) {
          audit(request.log, 'signup.rate_limited', { scope: blocked.scope, ip: request.ip })
          refuseRateLimited(reply, blocked)
        }
      },
      schema: {
        summary: 'Create an account (only with SIGNUP=open) and log in: sets the access and refresh cookies',
        body: SignupBody,
        response: { 201: SessionBody, 409: ErrorBody, 413: ErrorBody, ...errors }
      }
    }, async function signup (request, reply) {
      const { username, password } = request.body
      let user
      try {
        user = await accounts.signUp(username, password)
      } catch (error) {
        audit(request.log, 'signup.failed', { username, code: (error as { code?: string }).code ?? 'unknown', ip: request.ip })
        throw error
      }
      audit(request.log, 'signup', { userId: user.id, username: user.username, ip: request.ip })
      const issued = await openSession(request, reply, await service.startSession(user, clientInfo(request)))
      if (issued === undefined) return reply
      audit(request.log, 'login.succeeded', { userId: issued.info.user.id, familyId: issued.info.id, after: 'signup' })
      return reply.code(201).send(replies.send(reply, issued))
    })
  }
}
