/**
 * Claim rules of both token kinds (docs/security.md rule 4). The signature says who wrote a token; these rules say
 * whether it can still be honoured. Times must be finite integers (a JSON `1e400` is Infinity), a token may
 * not claim a longer life than its kind has, and `iat` may not lie in the future beyond the leeway.
 * Only the known claims are copied into a fresh object: `__proto__` or `constructor` keys in a payload
 * never reach anything (rule 6).
 */
import type { TokenKind } from './keys.js'

export interface BaseClaims {
  iss: string
  aud: string
  /** User id. */
  sub: string
  /** Token id, 128 random bits. */
  jti: string
  /** Session family id: every token of one login shares it. */
  sid: string
  iat: number
  exp: number
  /**
   * When the user last proved who they are (OpenID Connect's `auth_time`): the login, or a later
   * re-authentication (POST <prefix>/reauth). RFC 9470's `max_age` is measured against it.
   */
  auth_time: number
  /** Login time; the absolute session lifetime counts from it. Tokens without it (before 0.2) use `auth_time`. */
  login_time: number
  /** How the user proved it at `auth_time` (RFC 8176 values: `pwd`, `otp`). Tokens without it: `["pwd"]`. */
  amr: string[]
}

export interface AccessClaims extends BaseClaims {
  username: string
  roles: string[]
  /** The app's own claims (SessionClaims); absent from tokens without any. */
  claims?: ClaimValues
}

/** A value of an app-defined session claim: flat, nothing nested. */
export type ClaimValue = string | number | boolean
export type ClaimValues = Record<string, ClaimValue>

/**
 * The app-defined claims a session carries (tenant, locale, ...), as the app's `verifyCredentials` and
 * `findUser` return them in the user's `claims`. Empty until the app declares its own:
 *
 *     declare module 'fastify-stateless-session' {
 *       interface SessionClaims { tenant: string, locale: string }
 *     }
 */
export interface SessionClaims {}

/** The claims' type: the app's SessionClaims once it declares some, else any flat record. */
export type AppClaims = keyof SessionClaims extends never ? ClaimValues : SessionClaims

/** At most this many app claims per session. */
export const MAX_APP_CLAIMS = 16
/** Longest string value of an app claim. */
export const MAX_APP_CLAIM_LENGTH = 256
/** App claim names: a letter, then letters, digits or `_`, 32 characters at most (no `__proto__`). */
export const APP_CLAIM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/
/**
 * Names an app claim may not take: the registered JWT claims (RFC 7519 §4.1) and the ones this project puts
 * in its tokens, so an app claim can never be read for one of them wherever both appear.
 */
export const RESERVED_CLAIM_NAMES: ReadonlySet<string> = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti',
  'sid', 'auth_time', 'login_time', 'amr', 'username', 'roles', 'claims', 'id'
])

/** What is wrong with a value given as app claims, or undefined when it is a valid set. */
export function appClaimsProblem (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return 'must be a plain object'
  const names = Object.keys(value)
  if (names.length > MAX_APP_CLAIMS) return `must have at most ${MAX_APP_CLAIMS} members`
  for (const name of names) {
    if (!APP_CLAIM_NAME.test(name)) return `name "${name.slice(0, 40)}" must be a letter then up to 31 letters, digits or _`
    if (RESERVED_CLAIM_NAMES.has(name)) return `name "${name}" is reserved (a claim of the token itself)`
    const item = (value as Record<string, unknown>)[name]
    if (typeof item === 'string' ? item.length > MAX_APP_CLAIM_LENGTH : typeof item === 'number' ? !Number.isFinite(item) : typeof item !== 'boolean') {
      return `"${name}" must be a string of at most ${MAX_APP_CLAIM_LENGTH} characters, a finite number or a boolean`
    }
  }
  return undefined
}

/** A fresh copy of valid app claims (own, known-good members only). */
export function copyAppClaims (value: object): ClaimValues {
  const copy: ClaimValues = {}
  for (const name of Object.keys(value)) copy[name] = (value as ClaimValues)[name] as ClaimValue
  return copy
}

export type RefreshClaims = BaseClaims

export interface ClaimRules {
  issuer: string
  audience: string
  /** Longest allowed `exp - iat` per kind, in seconds. */
  lifetime: Record<TokenKind, number>
  /** Absolute session lifetime: no token outlives `login_time + maxAge`. */
  maxAge: number
  leeway: number
}

export type ClaimsResult<C> = { ok: true, claims: C } | { ok: false, reason: 'claims' | 'expired' | 'not-yet-valid' }

const ID = /^[A-Za-z0-9_-]{16,64}$/
export const MAX_ROLES = 32
export const MAX_NAME_LENGTH = 128
export const MAX_ROLE_LENGTH = 64
/** Authentication methods (RFC 8176) a token may carry: a short list of short lower-case names. */
export const MAX_AMR = 8
const AMR_VALUE = /^[a-z]{2,16}$/
const DEFAULT_AMR: readonly string[] = ['pwd']

function isTime (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isText (value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max
}

function isRoles (value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length > MAX_ROLES) return false
  for (const role of value) if (!isText(role, MAX_ROLE_LENGTH)) return false
  return true
}

function isAmr (value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_AMR) return false
  for (const method of value) if (typeof method !== 'string' || !AMR_VALUE.test(method)) return false
  return true
}

const INVALID = { ok: false, reason: 'claims' } as const

/** Checks a verified payload of `kind` at `now` (seconds) and returns a clean copy of its claims. */
export function checkClaims (kind: 'access', payload: Record<string, unknown>, rules: ClaimRules, now: number): ClaimsResult<AccessClaims>
export function checkClaims (kind: 'refresh', payload: Record<string, unknown>, rules: ClaimRules, now: number): ClaimsResult<RefreshClaims>
export function checkClaims (kind: TokenKind, payload: Record<string, unknown>, rules: ClaimRules, now: number): ClaimsResult<BaseClaims>
export function checkClaims (kind: TokenKind, payload: Record<string, unknown>, rules: ClaimRules, now: number): ClaimsResult<BaseClaims> {
  const { iss, aud, sub, jti, sid, iat, exp, nbf } = payload
  const authTime = payload['auth_time']
  const loginTime = payload['login_time'] ?? authTime
  const amr = payload['amr'] ?? DEFAULT_AMR
  if (iss !== rules.issuer || aud !== rules.audience) return INVALID
  if (!isText(sub, MAX_NAME_LENGTH) || typeof jti !== 'string' || !ID.test(jti) || typeof sid !== 'string' || !ID.test(sid)) return INVALID
  if (!isTime(iat) || !isTime(exp) || !isTime(authTime) || !isTime(loginTime) || (nbf !== undefined && !isTime(nbf)) || !isAmr(amr)) return INVALID
  if (exp <= iat || exp - iat > rules.lifetime[kind] || loginTime > authTime || authTime > iat || exp > loginTime + rules.maxAge) return INVALID
  if (iat > now + rules.leeway || (nbf !== undefined && nbf > now + rules.leeway)) return { ok: false, reason: 'not-yet-valid' }
  if (now >= exp + rules.leeway) return { ok: false, reason: 'expired' }
  // Each result is built as one object literal, in one shape per kind: no spread of a partial object (this
  // runs on every cold request; a copy through spread cost about a microsecond, scratch profile of the check).
  if (kind === 'refresh') {
    return { ok: true, claims: { iss, aud, sub, jti, sid, iat, exp, auth_time: authTime, login_time: loginTime, amr: amr.slice() } }
  }
  const { username, roles, claims: app } = payload
  if (!isText(username, MAX_NAME_LENGTH) || !isRoles(roles)) return INVALID
  if (app !== undefined && appClaimsProblem(app) !== undefined) return INVALID
  const claims: AccessClaims = { iss, aud, sub, jti, sid, iat, exp, auth_time: authTime, login_time: loginTime, amr: amr.slice(), username, roles: roles.slice() }
  if (app !== undefined) claims.claims = copyAppClaims(app as object)
  return { ok: true, claims }
}
