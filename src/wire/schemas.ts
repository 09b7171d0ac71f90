/**
 * The wire shapes of the HTTP API, defined once: the routes validate requests and shape responses with these
 * schemas, the OpenAPI description is generated from them, and the browser client takes its types from them
 * (type-only imports: no schema code reaches the browser).
 */
import { Type, type Static } from 'typebox'
import { MAX_NAME_LENGTH } from '../tokens/claims.js'
import { MAX_PASSWORD_LENGTH } from '../users/password-limits.js'

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
}, { $id: 'ErrorBody', description: 'Every error answer has this shape; `code` is documented in docs/errors.md.' })

export const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH }),
  password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH })
}, { additionalProperties: false })

const Timestamp = Type.String({ format: 'date-time' })

export const UserBody = Type.Object({
  id: Type.String(),
  username: Type.String(),
  roles: Type.Array(Type.String())
})

export const SessionBody = Type.Object({
  user: UserBody,
  session: Type.Object({
    id: Type.String({ description: 'Session (family) id; stays the same across refreshes.' }),
    accessExpiresAt: Timestamp,
    refreshExpiresAt: Timestamp,
    absoluteExpiresAt: Timestamp
  })
})

export const LiveSessionBody = Type.Object({
  id: Type.String(),
  createdAt: Timestamp,
  lastRefreshedAt: Timestamp,
  userAgent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'True for the session of the request.' })
})

export const SessionList = Type.Object({
  sessions: Type.Array(LiveSessionBody)
})

export const SessionIdParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })
})

export const NoContent = Type.Null({ description: 'No body.' })

/** The user as the API shows it. */
export type UserJson = Static<typeof UserBody>
/** The answer of login, refresh and GET /session. */
export type SessionJson = Static<typeof SessionBody>
/** One entry of GET /sessions. */
export type LiveSessionJson = Static<typeof LiveSessionBody>
export type SessionListJson = Static<typeof SessionList>
export type ErrorJson = Static<typeof ErrorBody>
export type LoginJson = Static<typeof LoginBody>
