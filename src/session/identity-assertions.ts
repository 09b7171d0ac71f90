/**
 * Signed identity assertions for upstream services (docs/upstreams.md): a short-lived EdDSA JWS saying who
 * the session's user is, for one audience (the host being accessed). Upstreams verify it against the JWKS,
 * never with the session secret.
 *
 * Signing costs tens of microseconds, so an assertion is reused for the same access token and audience until
 * it is close to expiry. Callers hand in a session that has just passed the access check (not revoked,
 * not expired), so a cached assertion is never served for a revoked session; the cache is keyed on the access
 * token's id, so new roles (after a refresh) get a new assertion.
 */
import { seconds, type Clock } from '../common/clock.js'
import type { AssertionKeys } from '../tokens/assertion-keys.js'
import type { SessionInfo } from './session-info.js'

export interface IdentityAssertionOptions {
  keys: AssertionKeys
  clock: Clock
  /** `iss` of every assertion: the service's public URL. */
  issuer: string
  /** Lifetime of an assertion, in seconds (at most 300). */
  ttlSeconds: number
  /** Assertions remembered; 0 signs every time. */
  cacheSize: number
}

/** The claims of an assertion (docs/upstreams.md). */
export interface AssertionClaims {
  iss: string
  aud: string
  sub: string
  username: string
  roles: string[]
  sid: string
  /** When the user last proved who they are (login or re-authentication), as OpenID Connect's `auth_time`. */
  auth_time: number
  /** How (RFC 8176: `pwd`, `otp`): an upstream can ask for a second factor or a recent authentication. */
  amr: string[]
  iat: number
  exp: number
}

export class IdentityAssertions {
  readonly #o: IdentityAssertionOptions
  readonly #cache = new Map<string, { token: string, exp: number }>()
  /** An assertion is reused while it has more than this many seconds left. */
  readonly #reuseMargin: number

  constructor (options: IdentityAssertionOptions) {
    this.#o = options
    this.#reuseMargin = Math.max(1, Math.floor(options.ttlSeconds / 2))
  }

  get jwks (): { keys: unknown[] } {
    return this.#o.keys.jwks
  }

  /** The claims an assertion for this session and audience carries, issued now. */
  claims (session: SessionInfo, audience: string, now = seconds(this.#o.clock)): AssertionClaims {
    return {
      iss: this.#o.issuer,
      aud: audience,
      sub: session.user.id,
      username: session.user.username,
      roles: [...session.user.roles],
      sid: session.id,
      auth_time: session.authTime,
      amr: [...session.amr],
      iat: now,
      exp: now + this.#o.ttlSeconds
    }
  }

  /**
   * An assertion for a session that has just passed the access check, for `audience`. Reused from the cache
   * while it has more than half its lifetime left.
   */
  assertionFor (session: SessionInfo, audience: string): string {
    const now = seconds(this.#o.clock)
    const key = `${session.tokenId}\n${audience}`
    const cached = this.#cache.get(key)
    if (cached !== undefined && cached.exp - now > this.#reuseMargin) return cached.token
    const claims = this.claims(session, audience, now)
    const token = this.#o.keys.sign(claims as unknown as Record<string, unknown>)
    if (this.#o.cacheSize > 0) {
      // Bounded without tracking ages: entries live minutes, and a cleared one is re-signed in microseconds.
      if (this.#cache.size >= this.#o.cacheSize) this.#cache.clear()
      this.#cache.set(key, { token, exp: claims.exp })
    }
    return token
  }
}
