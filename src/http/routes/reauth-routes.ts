/**
 * POST <prefix>/reauth: the signed-in user proves again who they are (password, and the second factor's code
 * when they have one), and the current session gets `auth_time` = now and the methods used (`amr`): the
 * sensitive routes' freshness guard (recent-auth.ts) lets it through again. The same session (id, family) with
 * a rotated token pair, never a new login. Wrong proofs count as failed logins of the account and client (the
 * login limits), so a stolen session gives no more guesses than the login form.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SecondFactorRequiredError, WrongPasswordError } from '../../common/errors.js'
import type { SessionInfo, SessionService } from '../../session/session-service.js'
import { ErrorBody, ReauthBody, SessionBody } from '../../wire/schemas.js'
import { audit } from '../audit.js'
import { readCookie, type CookiePolicy } from '../cookies.js'
import type { AuthRateLimits } from '../rate-limits.js'
import { BODY_LIMIT, errorResponses as errors, refuseRateLimited, type SessionReplies } from './route-kit.js'

/** What re-authentication needs to know of a user's second factor (the TOTP service implements it). */
export interface SecondFactorCheck {
  isEnrolled: (userId: string) => Promise<boolean>
  /** True when `code` is a valid code of the user's factor not used before (it is then used up). */
  verifyCode: (userId: string, code: string) => Promise<boolean>
}

export interface ReauthRoutesOptions {
  service: SessionService
  policy: CookiePolicy
  replies: SessionReplies
  limits: AuthRateLimits
  secondFactor: SecondFactorCheck | undefined
}

type Proof = { status: 'ok', amr: string[] } | { status: 'wrong-password' } | { status: 'code-required' }

export const reauthRoutes: FastifyPluginAsyncTypebox<ReauthRoutesOptions> = async function reauthRoutes (fastify, options) {
  const { service, policy, replies, limits, secondFactor } = options
  const { csrfProtection: csrf, requireSession, sessionOf } = fastify.statelessSession

  fastify.post('/reauth', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preHandler: [requireSession],
    schema: {
      summary: 'Re-authenticate: renews the current session\'s authentication time (auth_time) after checking the password, and the second factor\'s code when the user has one',
      body: ReauthBody,
      response: { 200: SessionBody, 413: ErrorBody, ...errors }
    }
  }, async function reauth (request, reply) {
    const session = sessionOf(request) as SessionInfo
    const { password, code } = request.body
    let proof: Proof = { status: 'wrong-password' }
    const outcome = await limits.login(request, async () => {
      if (!await service.checkPassword(session, password)) return null
      if (secondFactor === undefined || !await secondFactor.isEnrolled(session.user.id)) {
        proof = { status: 'ok', amr: ['pwd'] }
        return proof
      }
      if (code === undefined) {
        // The password was right; asking for the code is no failure of it.
        proof = { status: 'code-required' }
        return proof
      }
      if (!await secondFactor.verifyCode(session.user.id, code)) return null
      proof = { status: 'ok', amr: ['pwd', 'otp'] }
      return proof
    }, session.user.username)
    const who = { userId: session.user.id, familyId: session.id }
    if ('blocked' in outcome) {
      audit(request.log, 'reauth.rate_limited', { ...who, scope: outcome.blocked.scope, ip: request.ip })
      refuseRateLimited(reply, outcome.blocked)
    }
    const result: Proof = outcome.result ?? { status: 'wrong-password' }
    if (result.status === 'code-required') throw new SecondFactorRequiredError()
    if (result.status === 'wrong-password') {
      audit(request.log, 'reauth.failed', { ...who, reason: 'credentials' })
      throw new WrongPasswordError()
    }
    const token = readCookie(request.headers.cookie, policy.refresh.name)
    const rotated = token === undefined ? undefined : await service.reauthenticate(session, token, result.amr, request.ip)
    if (rotated?.status !== 'issued') {
      audit(request.log, 'reauth.failed', { ...who, reason: rotated === undefined ? 'no-refresh-token' : rotated.status === 'invalid' ? rotated.reason : 'reuse' })
      return replies.refuse(reply, rotated?.status === 'reuse')
    }
    audit(request.log, 'reauth.succeeded', { ...who, amr: result.amr })
    return replies.send(reply, rotated.session)
  })
}
