/**
 * What the session layer counts, as plain numbers: an increment on the request path is one property add, with
 * nothing allocated and nothing looked up. Metrics (src/http/metrics.ts) read them only when scraped, so
 * counting costs the same whether metrics are on or off.
 */
import type { VerifyFailure } from '../tokens/token-codec.js'

/** Access checks by outcome: a session (`valid`), or each reason there is none. */
export type AccessCounts = Record<VerifyFailure | 'revoked' | 'stale' | 'valid', number> & {
  /** Checks answered from the verified-token cache (a subset of the checks above). */
  cacheHits: number
}

export function accessCounts (): AccessCounts {
  return {
    valid: 0,
    malformed: 0,
    'unknown-key': 0,
    decrypt: 0,
    signature: 0,
    claims: 0,
    expired: 0,
    'not-yet-valid': 0,
    revoked: 0,
    stale: 0,
    cacheHits: 0
  }
}

export class SessionCounters {
  readonly access: AccessCounts = accessCounts()
  /** Logins by outcome (a login stopped by a rate limit is in `rateLimited`, a store failure in `error`). */
  readonly logins = { succeeded: 0, second_factor_required: 0, invalid_credentials: 0, credentials_changed: 0, too_slow: 0, error: 0 }
  /** Refreshes by outcome (a refresh request without a refresh cookie never reaches the service). */
  readonly refreshes = { rotated: 0, replayed: 0, reuse_detected: 0, invalid: 0, error: 0 }
  /** Revocations this instance recorded in the store, by kind (a subject revocation also revokes its families). */
  readonly revocations = { token: 0, family: 0, subject: 0 }
  /** Requests refused by a rate limit, by limit and by what it counts (a password change shares the login limits). */
  readonly rateLimited = { login: { account: 0, ip: 0 }, refresh: { account: 0, ip: 0 }, signup: { account: 0, ip: 0 }, second_factor: { account: 0, ip: 0 } }
}
