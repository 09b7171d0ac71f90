/** JSON schemas of the HTTP API: they validate requests, shape responses and feed the OpenAPI description. */
import { Type } from 'typebox'
import { MAX_NAME_LENGTH } from '../tokens/claims.js'
import { MAX_PASSWORD_LENGTH } from '../users/password-hasher.js'

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

export const SessionBody = Type.Object({
  user: Type.Object({
    id: Type.String(),
    username: Type.String(),
    roles: Type.Array(Type.String())
  }),
  session: Type.Object({
    id: Type.String({ description: 'Session (family) id; stays the same across refreshes.' }),
    accessExpiresAt: Timestamp,
    refreshExpiresAt: Timestamp,
    absoluteExpiresAt: Timestamp
  })
})

export const SessionList = Type.Object({
  sessions: Type.Array(Type.Object({
    id: Type.String(),
    createdAt: Timestamp,
    lastRefreshedAt: Timestamp,
    userAgent: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean()
  }))
})

export const SessionIdParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })
})

export const NoContent = Type.Null({ description: 'No body.' })
