/**
 * The TOTP second factor over HTTP (docs/http-api.md, "Second factor"), registered inside the auth routes'
 * context (JSON only, CSRF-checked, no-store) when the user directory keeps second factors:
 *
 * - Enrolment for the signed-in user: `POST /mfa/totp` (recent authentication) answers the secret, its
 *   otpauth URI and a QR code; `POST /mfa/totp/confirm` with a current code makes it count and answers ten
 *   recovery codes; `DELETE /mfa/totp` (recent authentication) removes it and ends the user's other sessions;
 *   `POST /mfa/recovery-codes` (recent authentication) replaces the codes; `GET /mfa` tells what is enrolled.
 * - The two-step login: for a user with a factor, the password step (`POST /login`) sets no session cookie. It
 *   answers `{ "secondFactorRequired": true }` and a pending-login cookie: 256 random bits, HttpOnly,
 *   SameSite=Strict, limited to `<prefix>/login`, a few minutes long, naming a record in the store (by its
 *   hash) that holds this attempt: the user the password was checked for and the store's revocation mark.
 *   `POST /login/second-factor` with `{ code }` or `{ recoveryCode }` then answers like a login. The record is
 *   taken (read and deleted in one atomic step) when the code is right, so the cookie works once; the user is
 *   the record's, never one the request names. Wrong codes count per account and per IP (429, Retry-After).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { createHash, randomBytes } from 'node:crypto'
import { seconds, type Clock } from '../../common/clock.js'
import { InvalidSecondFactorError, NoSecondFactorError, PendingLoginInvalidError, SecondFactorExistsError, ValidationError } from '../../common/errors.js'
import type { SecondFactorHold, SessionInfo, SessionService } from '../../session/session-service.js'
import type { SessionUser } from '../../stores/session-store.js'
import type { TotpService } from '../../users/totp.js'
import type { SecondFactorStore } from '../../users/user-store.js'
import { ConfirmTotpBody, ErrorBody, NoContent, RecoveryCodesBody, SecondFactorBody, SecondFactorStatus, SessionBody, TotpEnrolmentBody } from '../../wire/schemas.js'
import { audit } from '../audit.js'
import { readCookie, type CookiePolicy } from '../cookies.js'
import type { AuthRateLimits } from '../rate-limits.js'
import { BODY_LIMIT, clientInfo, errorResponses as errors, noBody, refuseRateLimited, type SessionReplies } from './route-kit.js'

/** Longest wait between the two steps of a login (shorter when the access token lifetime is). */
export const PENDING_LOGIN_SECONDS = 300
/** Methods of a login or re-authentication with a second factor. */
export const SECOND_FACTOR_AMR: readonly string[] = Object.freeze(['pwd', 'otp'])

export interface SecondFactorDeps {
  totp: TotpService
  store: SecondFactorStore
}

export interface TwoStepLoginOptions extends SecondFactorDeps {
  policy: CookiePolicy
  clock: Clock
  accessTtl: number
}

interface PendingRecord {
  user: SessionUser
  mark: string
  startedAt: number
}

export interface TwoStepLogin {
  readonly needsSecondFactor: (userId: string) => Promise<boolean>
  /** Answers the password step of a user with a second factor: the pending-login cookie and `{ secondFactorRequired: true }`. */
  hold: (request: FastifyRequest, reply: FastifyReply, hold: SecondFactorHold) => Promise<{ secondFactorRequired: true }>
  cookieName: string
}

const keyOf = (cookie: string): string => createHash('sha256').update(cookie).digest('base64url')

function pendingCookie (policy: CookiePolicy): { name: string, path: string, sameSite: 'strict', secure: boolean, httpOnly: true } {
  const secure = policy.refresh.secure
  return { name: secure ? '__Secure-pending-login' : 'pending-login', path: `${policy.refresh.path}/login`, sameSite: 'strict', secure, httpOnly: true }
}

export function twoStepLogin (options: TwoStepLoginOptions): TwoStepLogin {
  const { name, ...attributes } = pendingCookie(options.policy)
  const ttl = Math.min(PENDING_LOGIN_SECONDS, options.accessTtl)
  return {
    cookieName: name,
    needsSecondFactor: async (userId) => await options.totp.isEnrolled(userId),
    async hold (request, reply, hold) {
      const cookie = randomBytes(32).toString('base64url')
      const record: PendingRecord = { user: hold.user, mark: hold.mark, startedAt: hold.startedAt }
      const now = seconds(options.clock)
      await options.store.putPending(keyOf(cookie), JSON.stringify(record), now + ttl, now)
      reply.setCookie(name, cookie, { ...attributes, maxAge: ttl })
      audit(request.log, 'login.second_factor_required', { userId: hold.user.id })
      return { secondFactorRequired: true }
    }
  }
}

export interface MfaRoutesOptions extends SecondFactorDeps {
  service: SessionService
  policy: CookiePolicy
  replies: SessionReplies
  limits: AuthRateLimits
  clock: Clock
}

export const mfaRoutes: FastifyPluginAsyncTypebox<MfaRoutesOptions> = async function mfaRoutes (fastify, options) {
  const { service, totp, store, replies, limits, clock } = options
  const { csrfProtection: csrf, requireSession, requireRecentAuth, sessionOf } = fastify.statelessSession
  const recentAuth = requireRecentAuth()
  const { name: cookieName, ...cookieAttributes } = pendingCookie(options.policy)
  const clearPending = (reply: FastifyReply): void => { reply.clearCookie(cookieName, cookieAttributes) }

  fastify.post('/login/second-factor', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    schema: {
      summary: 'Log in, second step: the code of the authenticator app, or a recovery code, for the login waiting in the pending-login cookie',
      body: SecondFactorBody,
      response: { 200: SessionBody, ...errors }
    }
  }, async function secondFactorLogin (request, reply) {
    const { code, recoveryCode } = request.body
    if ((code === undefined) === (recoveryCode === undefined)) throw new ValidationError('Send exactly one of "code" and "recoveryCode"')
    const cookie = readCookie(request.headers.cookie, cookieName)
    const key = cookie === undefined ? undefined : keyOf(cookie)
    const found = key === undefined ? undefined : await store.getPending(key, seconds(clock))
    if (key === undefined || found === undefined) {
      audit(request.log, 'login.second_factor_failed', { reason: 'no-pending-login' })
      clearPending(reply)
      throw new PendingLoginInvalidError()
    }
    const pending = JSON.parse(found) as PendingRecord
    const proof = code !== undefined ? { code } : { recoveryCode: recoveryCode as string }
    let reason = 'wrong'
    const outcome = await limits.secondFactor(request, async () => {
      const verdict = await totp.verify(pending.user.id, pending.user.username, proof)
      if (verdict !== 'ok') {
        reason = verdict
        return null
      }
      return true
    }, pending.user.username)
    const who = { userId: pending.user.id, method: code !== undefined ? 'totp' : 'recovery-code' }
    if ('blocked' in outcome) {
      audit(request.log, 'login.second_factor_rate_limited', { ...who, scope: outcome.blocked.scope, ip: request.ip })
      refuseRateLimited(reply, outcome.blocked)
    }
    if (outcome.result === null) {
      audit(request.log, 'login.second_factor_failed', { ...who, reason })
      throw new InvalidSecondFactorError()
    }
    // Taken in one atomic step: of two requests with the same cookie (and right codes), one gets the session.
    if (await store.takePending(key, seconds(clock)) === undefined) {
      audit(request.log, 'login.second_factor_failed', { ...who, reason: 'pending-login-used' })
      clearPending(reply)
      throw new PendingLoginInvalidError()
    }
    clearPending(reply)
    const result = await service.finishLogin(pending, clientInfo(request), SECOND_FACTOR_AMR)
    if (result.status !== 'issued') {
      audit(request.log, 'login.failed', { userId: pending.user.id, reason: result.reason })
      throw new PendingLoginInvalidError()
    }
    audit(request.log, 'login.succeeded', { userId: result.session.info.user.id, familyId: result.session.info.id, amr: SECOND_FACTOR_AMR })
    return replies.send(reply, result.session)
  })

  fastify.get('/mfa', {
    preHandler: requireSession,
    schema: { summary: 'The second factor of the signed-in user: enrolled or not, recovery codes left', response: { 200: SecondFactorStatus, ...errors } }
  }, async function secondFactorStatus (request) {
    return await totp.status((sessionOf(request) as SessionInfo).user.id)
  })

  fastify.post('/mfa/totp', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    preHandler: recentAuth,
    schema: {
      summary: 'Start enrolling a TOTP authenticator app (needs a recent authentication): its secret, otpauth URI and QR code; it counts once confirmed',
      response: { 200: TotpEnrolmentBody, 409: ErrorBody, ...errors }
    }
  }, async function beginTotp (request) {
    const session = sessionOf(request) as SessionInfo
    const enrolment = await totp.begin(session.user.id, session.user.username)
    if (enrolment === 'exists') throw new SecondFactorExistsError()
    if (enrolment === 'no-user') throw new NoSecondFactorError('such user in the directory')
    audit(request.log, 'mfa.enrolment_started', { userId: session.user.id, familyId: session.id })
    return enrolment
  })

  fastify.post('/mfa/totp/confirm', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preHandler: requireSession,
    schema: {
      summary: 'Confirm the TOTP enrolment with a current code: from now on logins need a code; answers ten recovery codes, shown once',
      body: ConfirmTotpBody,
      response: { 200: RecoveryCodesBody, 404: ErrorBody, ...errors }
    }
  }, async function confirmTotp (request, reply) {
    const session = sessionOf(request) as SessionInfo
    const outcome = await limits.secondFactor(request, async () => {
      const result = await totp.confirm(session.user.id, session.user.username, request.body.code)
      return result === 'wrong' || result === 'replayed' ? null : result
    }, session.user.username)
    if ('blocked' in outcome) refuseRateLimited(reply, outcome.blocked)
    const codes = outcome.result
    if (codes === 'none') throw new NoSecondFactorError('enrolment to confirm: start with POST /mfa/totp')
    if (codes === null) throw new InvalidSecondFactorError()
    audit(request.log, 'mfa.enrolled', { userId: session.user.id, familyId: session.id })
    return { recoveryCodes: codes }
  })

  fastify.delete('/mfa/totp', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    preHandler: recentAuth,
    schema: {
      summary: 'Remove the TOTP factor and its recovery codes (needs a recent authentication); every other session of the user ends',
      response: { 204: NoContent, 404: ErrorBody, ...errors }
    }
  }, async function removeTotp (request, reply) {
    const session = sessionOf(request) as SessionInfo
    if (!await totp.remove(session.user.id)) throw new NoSecondFactorError('second factor to remove')
    const ended = await service.endOtherSessions(session)
    audit(request.log, 'mfa.removed', { userId: session.user.id, familyId: session.id, sessionsEnded: ended })
    return reply.code(204).send(null)
  })

  fastify.post('/mfa/recovery-codes', {
    bodyLimit: BODY_LIMIT,
    onRequest: csrf,
    preValidation: noBody,
    preHandler: recentAuth,
    schema: {
      summary: 'Replace the recovery codes with ten new ones, shown once (needs a recent authentication); the old ones stop working',
      response: { 200: RecoveryCodesBody, 404: ErrorBody, ...errors }
    }
  }, async function regenerateRecoveryCodes (request) {
    const session = sessionOf(request) as SessionInfo
    if (!await totp.isEnrolled(session.user.id)) throw new NoSecondFactorError('second factor: enrol one first')
    const codes = await totp.regenerate(session.user.id)
    audit(request.log, 'mfa.recovery_codes_renewed', { userId: session.user.id, familyId: session.id })
    return { recoveryCodes: codes }
  })
}
