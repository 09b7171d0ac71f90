/**
 * Admin routes under <prefix>/admin/, for users holding the admin role (`adminRole`, ADMIN_ROLE; default
 * `admin`), registered inside the auth routes' context (JSON only, CSRF-checked, no-store, security headers)
 * when the plugin is given `accounts`. Without a session: 401; with one but without the role: 403
 * ERR_FORBIDDEN. The role is read from the access token: taking it away ends the user's sessions at once, so a
 * token still carrying it is never accepted after that. These checks run in `onRequest`, before the body is
 * read and the parameters, query and body are validated: someone who may not call a route learns nothing of
 * the input it takes (no 400 or 415 before the 401 or 403).
 *
 * Every call is an audit event naming the actor (`actorId`, `actorName`). The directory keeps at least one
 * enabled admin (ERR_LAST_ADMIN, checked atomically with the change), and an admin cannot disable, delete or
 * demote their own account here (ERR_ADMIN_SELF_CHANGE): the users CLI on the server can.
 *
 * Every admin route needs a recent authentication (`reauthMaxAgeSeconds`; 401 ERR_REAUTH_REQUIRED otherwise).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AdminSelfChangeError, ForbiddenError, SessionNotFoundError, UserNotFoundError } from '../../common/errors.js'
import type { SessionInfo, SessionService } from '../../session/session-service.js'
import type { Accounts, AccountView } from '../../users/accounts.js'
import {
  AccountAnswer,
  AccountList,
  AccountListQuery,
  CreateAccountBody,
  EndedBody,
  ErrorBody,
  NoContent,
  PasswordBody,
  RolesBody,
  SessionList,
  UserIdParams,
  UserSessionParams,
  type AccountJson
} from '../../wire/schemas.js'
import { audit, type AuditEvent } from '../audit.js'
import type { AuthRateLimits } from '../rate-limits.js'
import type { TotpService } from '../../users/totp.js'
import { BODY_LIMIT, errorResponses, iso, noBody, sessionList, type SessionReplies } from './route-kit.js'

export interface AdminRoutesOptions {
  service: SessionService
  accounts: Accounts
  replies: SessionReplies
  limits: AuthRateLimits
  adminRole: string
  /** With second factors: `DELETE /users/:id/mfa` resets one. */
  secondFactor: { totp: TotpService } | undefined
}

const errors = { ...errorResponses, 404: ErrorBody, 409: ErrorBody }

function userView (user: AccountView): AccountJson {
  return { id: user.id, username: user.username, roles: [...user.roles], disabled: user.disabled, createdAt: iso(user.createdAt), updatedAt: iso(user.updatedAt) }
}

/** Codes of refusals worth a warning in the audit log (an admin tried something the rules forbid). */
const REFUSALS = new Set(['ERR_LAST_ADMIN', 'ERR_ADMIN_SELF_CHANGE'])

export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async function adminRoutes (fastify, options) {
  const { service, accounts, adminRole } = options
  const { csrfProtection: csrf, requireSession, requireRecentAuth, sessionOf } = fastify.statelessSession
  const guard = { keepRole: adminRole }

  /** Hook after requireSession: 403 unless the session's user holds the admin role. */
  function requireAdmin (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const session = sessionOf(request) as SessionInfo
    if (session.user.roles.includes(adminRole)) {
      done()
      return
    }
    audit(request.log, 'admin.forbidden', { actorId: session.user.id, actorName: session.user.username, method: request.method, route: request.routeOptions.url })
    done(new ForbiddenError(adminRole))
  }
  // Acting as an admin needs a recent authentication too (reauthMaxAgeSeconds), checked after the role. All in
  // onRequest, so that who may call a route is settled before its input is parsed and validated.
  const admin = [requireSession, requireAdmin, requireRecentAuth()]
  const change = { bodyLimit: BODY_LIMIT, onRequest: [csrf, ...admin] }

  function actor (request: FastifyRequest): { actorId: string, actorName: string } {
    const session = sessionOf(request) as SessionInfo
    return { actorId: session.user.id, actorName: session.user.username }
  }

  /** Runs an admin action and logs it, or logs why it was refused. */
  async function act<T> (request: FastifyRequest, event: AuditEvent, fields: Record<string, unknown>, action: () => Promise<T>): Promise<T> {
    try {
      const result = await action()
      audit(request.log, event, { ...actor(request), ...fields })
      return result
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code !== undefined && REFUSALS.has(code)) audit(request.log, 'admin.refused', { ...actor(request), action: event, code, ...fields })
      throw error
    }
  }

  function notSelf (request: FastifyRequest, id: string, what: string): void {
    if ((sessionOf(request) as SessionInfo).user.id === id) throw new AdminSelfChangeError(what)
  }

  async function existing (id: string): Promise<AccountView> {
    const user = await accounts.getUser(id)
    if (user === undefined) throw new UserNotFoundError(`with id ${id}`)
    return user
  }

  fastify.get('/users', {
    onRequest: admin,
    schema: {
      summary: 'Admin: list users, a page at a time, optionally only usernames containing `search`',
      querystring: AccountListQuery,
      response: { 200: AccountList, ...errors }
    }
  }, async function listUsers (request) {
    const { search, offset, limit } = request.query
    const page = await act(request, 'admin.users_listed', { search, offset, limit }, async () =>
      await accounts.listUsers({ ...(search === undefined ? {} : { search }), offset, limit }))
    return { users: page.users.map(userView), total: page.total, offset, limit }
  })

  fastify.post('/users', {
    ...change,
    schema: {
      summary: 'Admin: create a user (the password policy applies)',
      body: CreateAccountBody,
      response: { 201: AccountAnswer, 413: ErrorBody, ...errors }
    }
  }, async function createUser (request, reply) {
    const { username, password, roles = [] } = request.body
    const user = await act(request, 'admin.user_created', { username, roles }, async () => await accounts.createUser(username, password, roles))
    return reply.code(201).send({ user: userView(user) })
  })

  fastify.get('/users/:id', {
    onRequest: admin,
    schema: { summary: 'Admin: one user', params: UserIdParams, response: { 200: AccountAnswer, ...errors } }
  }, async function getUser (request) {
    const user = await act(request, 'admin.user_read', { userId: request.params.id }, async () => await existing(request.params.id))
    return { user: userView(user) }
  })

  fastify.delete('/users/:id', {
    ...change,
    preValidation: noBody,
    schema: { summary: 'Admin: delete a user; every session of theirs ends', params: UserIdParams, response: { 204: NoContent, ...errors } }
  }, async function deleteUser (request, reply) {
    const { id } = request.params
    await act(request, 'admin.user_deleted', { userId: id }, async () => {
      notSelf(request, id, 'delete')
      return await accounts.deleteUser(id, guard)
    })
    return reply.code(204).send(null)
  })

  for (const [path, disabled] of [['disable', true], ['enable', false]] as const) {
    fastify.post(`/users/:id/${path}`, {
      ...change,
      preValidation: noBody,
      schema: {
        summary: disabled ? 'Admin: disable a user; every session of theirs ends' : 'Admin: enable a user again',
        params: UserIdParams,
        response: { 200: AccountAnswer, ...errors }
      }
    }, async function setDisabled (request) {
      const { id } = request.params
      const user = await act(request, disabled ? 'admin.user_disabled' : 'admin.user_enabled', { userId: id }, async () => {
        if (disabled) notSelf(request, id, 'disable')
        return await accounts.setDisabled(id, disabled, guard)
      })
      return { user: userView(user) }
    })
  }

  fastify.put('/users/:id/roles', {
    ...change,
    schema: {
      summary: 'Admin: set the roles of a user. A role taken away ends their sessions at once; one added reaches their tokens at the next refresh',
      params: UserIdParams,
      body: RolesBody,
      response: { 200: AccountAnswer, ...errors }
    }
  }, async function setRoles (request) {
    const { id } = request.params
    const { roles } = request.body
    const user = await act(request, 'admin.roles_changed', { userId: id, roles }, async () => {
      if (!roles.includes(adminRole)) notSelf(request, id, `take the ${adminRole} role from`)
      return await accounts.setRoles(id, roles, guard)
    })
    return { user: userView(user) }
  })

  fastify.put('/users/:id/password', {
    ...change,
    schema: {
      summary: 'Admin: set the password of a user (the password policy applies); every session of theirs ends',
      params: UserIdParams,
      body: PasswordBody,
      response: { 200: AccountAnswer, 413: ErrorBody, ...errors }
    }
  }, async function setPassword (request) {
    const { id } = request.params
    const user = await act(request, 'admin.password_set', { userId: id }, async () => await accounts.setPassword(id, request.body.password))
    return { user: userView(user) }
  })

  const secondFactor = options.secondFactor
  if (secondFactor !== undefined) {
    fastify.delete('/users/:id/mfa', {
      ...change,
      preValidation: noBody,
      schema: {
        summary: 'Admin: reset the second factor of a user who lost it (recovery codes included); every session of theirs ends',
        params: UserIdParams,
        response: { 204: NoContent, ...errors }
      }
    }, async function resetSecondFactor (request, reply) {
      const { id } = request.params
      await act(request, 'admin.mfa_reset', { userId: id }, async () => {
        await existing(id)
        const removed = await secondFactor.totp.remove(id)
        await service.endUserSessions(id)
        return removed
      })
      return reply.code(204).send(null)
    })
  }

  fastify.get('/users/:id/sessions', {
    onRequest: admin,
    schema: { summary: 'Admin: the live sessions of a user', params: UserIdParams, response: { 200: SessionList, ...errors } }
  }, async function listUserSessions (request) {
    const { id } = request.params
    const sessions = await act(request, 'admin.sessions_listed', { userId: id }, async () => {
      await existing(id)
      return await service.listUserSessions(id, (sessionOf(request) as SessionInfo).id)
    })
    return sessionList(sessions)
  })

  fastify.delete('/users/:id/sessions', {
    ...change,
    preValidation: noBody,
    schema: { summary: 'Admin: end every session of a user', params: UserIdParams, response: { 200: EndedBody, ...errors } }
  }, async function endUserSessions (request) {
    const { id } = request.params
    const ended = await act(request, 'admin.sessions_ended', { userId: id }, async () => {
      await existing(id)
      return await service.endUserSessions(id)
    })
    return { ended }
  })

  fastify.delete('/users/:id/sessions/:sessionId', {
    ...change,
    preValidation: noBody,
    schema: { summary: 'Admin: end one session of a user', params: UserSessionParams, response: { 204: NoContent, ...errors } }
  }, async function endUserSession (request, reply) {
    const { id, sessionId } = request.params
    await act(request, 'admin.session_ended', { userId: id, familyId: sessionId }, async () => {
      if (!await service.endUserSession(id, sessionId)) throw new SessionNotFoundError()
    })
    return reply.code(204).send(null)
  })
}
