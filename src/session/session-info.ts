/** What a verified access token says about its session: the value of `request.session`. */
import type { SessionUser } from '../stores/session-store.js'
import type { AccessClaims, AppClaims } from '../tokens/claims.js'

/** What `request.session` holds: who, which session, and until when. Frozen; shared between requests. */
export interface SessionInfo {
  /** Session (family) id: stable across refreshes; what GET /auth/sessions lists. */
  readonly id: string
  readonly user: Readonly<SessionUser>
  /** Id and issue time of the access token this request presented. */
  readonly tokenId: string
  readonly issuedAt: number
  readonly accessExpiresAt: number
  readonly refreshExpiresAt: number
  readonly absoluteExpiresAt: number
  /** When the user last proved who they are (login or re-authentication): the token's `auth_time`. */
  readonly authTime: number
  /** How they proved it (RFC 8176: `pwd`, `otp`): the token's `amr`. */
  readonly amr: readonly string[]
  /**
   * The app's own claims (SessionClaims) the token carries; `{}` when none. Partial: a token issued before
   * the app gave a claim lacks it until the next refresh.
   */
  readonly claims: Readonly<Partial<AppClaims>>
}

/** The session lifetimes a SessionInfo is worked out with, in seconds. */
export interface InfoLifetimes {
  refreshIdleTtl: number
  maxAge: number
}

/** The `claims` of a session whose token carries none: one frozen object, shared. */
const NO_CLAIMS: Readonly<Partial<AppClaims>> = Object.freeze({})

export function sessionInfo (claims: AccessClaims, lifetimes: InfoLifetimes): SessionInfo {
  const absoluteExpiresAt = claims.login_time + lifetimes.maxAge
  return Object.freeze({
    id: claims.sid,
    user: Object.freeze({ id: claims.sub, username: claims.username, roles: Object.freeze(claims.roles.slice()) as string[] }),
    tokenId: claims.jti,
    issuedAt: claims.iat,
    accessExpiresAt: claims.exp,
    // Refresh and access tokens of one pair share `iat`, so the refresh expiry follows from it.
    refreshExpiresAt: Math.min(claims.iat + lifetimes.refreshIdleTtl, absoluteExpiresAt),
    absoluteExpiresAt,
    authTime: claims.auth_time,
    amr: Object.freeze(claims.amr.slice()),
    claims: claims.claims === undefined ? NO_CLAIMS : Object.freeze({ ...claims.claims }) as Partial<AppClaims>
  })
}
