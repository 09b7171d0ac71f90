/**
 * The wire shapes of the HTTP API, defined once: the routes validate requests and shape responses with these
 * schemas, the OpenAPI description is generated from them, and the browser client takes its types from them
 * (type-only imports: no schema code reaches the browser).
 */
import { Type, type Static } from 'typebox'
import { MAX_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES } from '../tokens/claims.js'
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
    absoluteExpiresAt: Timestamp,
    claims: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
      description: 'The app-defined claims of the session (tenant, locale, ...): flat string, number or boolean values; absent when there are none.'
    }))
  })
})

export const LiveSessionBody = Type.Object({
  id: Type.String(),
  createdAt: Type.String({ format: 'date-time', description: 'Login time.' }),
  lastSeenAt: Type.String({ format: 'date-time', description: 'The last refresh (or the login): updated at each refresh, not at each request.' }),
  lastRefreshedAt: Type.String({ format: 'date-time', description: 'The same as `lastSeenAt` (kept for existing clients).' }),
  clientAddress: Type.Union([Type.String(), Type.Null()], { description: 'The client address at the last login or refresh, as the service sees it (after TRUST_PROXY).' }),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean({ description: 'True for the session of the request (always false in an admin\'s view of another user).' })
})

export const SessionList = Type.Object({
  sessions: Type.Array(LiveSessionBody)
})

const SessionId = Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' })

export const SessionIdParams = Type.Object({
  id: SessionId
})

export const EndedBody = Type.Object({
  ended: Type.Integer({ minimum: 0, description: 'How many sessions were ended.' })
})

const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH })
const Roles = Type.Array(Type.String({ minLength: 1, maxLength: MAX_ROLE_LENGTH }), { maxItems: MAX_ROLES })

/** A code from an authenticator app (TOTP: six digits). */
export const TotpCode = Type.String({ pattern: '^[0-9]{6}$', description: 'The six-digit code the authenticator app shows now.' })

export const ChangePasswordBody = Type.Object({
  currentPassword: Password,
  newPassword: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH, description: 'At least 8 characters, not a common password, not containing the username (docs/security.md, "Passwords").' }),
  code: Type.Optional({ ...TotpCode, description: 'Required when the user has a second factor: the six-digit code the authenticator app shows now.' })
}, { additionalProperties: false })

export const SignupBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'Letters, digits and . _ @ + -, starting with a letter or digit.' }),
  password: Password
}, { additionalProperties: false })

/** A user as the admin routes show it (never a password hash). */
export const AccountBody = Type.Object({
  id: Type.String(),
  username: Type.String(),
  roles: Type.Array(Type.String()),
  disabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp
})

export const AccountAnswer = Type.Object({ user: AccountBody })

export const AccountList = Type.Object({
  users: Type.Array(AccountBody),
  total: Type.Integer({ minimum: 0, description: 'Users matching the search, over all pages.' }),
  offset: Type.Integer({ minimum: 0 }),
  limit: Type.Integer({ minimum: 1 })
})

export const MAX_PAGE = 200

export const AccountListQuery = Type.Object({
  search: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'Only usernames containing this text (ignoring case).' })),
  offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 50 })
}, { additionalProperties: false })

export const CreateAccountBody = Type.Object({
  username: SignupBody.properties.username,
  password: Password,
  roles: Type.Optional(Roles)
}, { additionalProperties: false })

export const RolesBody = Type.Object({ roles: Roles }, { additionalProperties: false })

export const PasswordBody = Type.Object({ password: Password }, { additionalProperties: false })

export const UserIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH })
})

export const UserSessionParams = Type.Object({
  id: UserIdParams.properties.id,
  sessionId: SessionId
})

export const ReauthBody = Type.Object({
  password: Password,
  code: Type.Optional({ ...TotpCode, description: 'Required when the user has a second factor: the six-digit code the authenticator app shows now.' })
}, { additionalProperties: false })

/** The password step's answer for a user with a second factor: no session yet. */
export const SecondFactorRequiredBody = Type.Object({
  secondFactorRequired: Type.Literal(true, { description: 'Send the code to POST <prefix>/login/second-factor; a pending-login cookie (HttpOnly, a few minutes) holds this attempt.' })
})

export const LoginAnswer = Type.Union([SessionBody, SecondFactorRequiredBody], { description: 'The session object, or `{ "secondFactorRequired": true }` for a user with a second factor.' })

const RecoveryCode = Type.String({ minLength: 1, maxLength: 64, description: 'One of the recovery codes (case, spaces and dashes ignored); each works once.' })

/** Exactly one of the two (checked by the route: 400 otherwise). */
export const SecondFactorBody = Type.Object({
  code: Type.Optional(TotpCode),
  recoveryCode: Type.Optional(RecoveryCode)
}, { additionalProperties: false })

export const TotpEnrolmentBody = Type.Object({
  secret: Type.String({ description: 'Base32 secret, for typing into an authenticator app.' }),
  uri: Type.String({ description: 'The otpauth://totp/ URI (SHA-1, 6 digits, 30 s).' }),
  qrSvg: Type.String({ description: 'The URI as an SVG QR code.' })
})

export const ConfirmTotpBody = Type.Object({ code: TotpCode }, { additionalProperties: false })

export const RecoveryCodesBody = Type.Object({
  recoveryCodes: Type.Array(Type.String(), { description: 'Ten single-use codes, shown this once: only their hashes are kept.' })
})

export const SecondFactorStatus = Type.Object({
  totp: Type.Boolean({ description: 'True once a TOTP factor is confirmed.' }),
  recoveryCodesLeft: Type.Integer({ minimum: 0 })
})

export const NoContent = Type.Null({ description: 'No body.' })

export const SessionStatusBody = Type.Object({
  authenticated: Type.Boolean({ description: 'True when the access cookie is valid now (what GET <prefix>/session would answer 200 for).' }),
  refreshable: Type.Boolean({ description: 'True when the request carried a refresh cookie; whether it is still valid is not checked here (POST <prefix>/refresh tells).' })
})

/** The user as the API shows it. */
export type UserJson = Static<typeof UserBody>
/** The answer of login, refresh and GET /session. */
export type SessionJson = Static<typeof SessionBody>
/** The answer of GET /session/status. */
export type SessionStatusJson = Static<typeof SessionStatusBody>
/** One entry of GET /sessions. */
export type LiveSessionJson = Static<typeof LiveSessionBody>
export type SessionListJson = Static<typeof SessionList>
export type ErrorJson = Static<typeof ErrorBody>
export type LoginJson = Static<typeof LoginBody>
export type EndedJson = Static<typeof EndedBody>
export type ChangePasswordJson = Static<typeof ChangePasswordBody>
export type SignupJson = Static<typeof SignupBody>
/** A user in the admin routes. */
export type AccountJson = Static<typeof AccountBody>
export type AccountListJson = Static<typeof AccountList>
export type CreateAccountJson = Static<typeof CreateAccountBody>
export type ReauthJson = Static<typeof ReauthBody>
export type LoginAnswerJson = Static<typeof LoginAnswer>
export type SecondFactorJson = Static<typeof SecondFactorBody>
export type TotpEnrolmentJson = Static<typeof TotpEnrolmentBody>
export type RecoveryCodesJson = Static<typeof RecoveryCodesBody>
export type SecondFactorStatusJson = Static<typeof SecondFactorStatus>
