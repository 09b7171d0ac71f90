/**
 * The one place that decides whether an access token can be trusted for a request: a valid token (by full
 * verification, or by the verified-token cache, which still re-checks expiry), not revoked in the in-memory
 * denylist, and a denylist that is fresh enough to vouch for it. No I/O.
 */
import { seconds, type Clock } from '../common/clock.js'
import type { TokenCodec, VerifyFailure } from '../tokens/token-codec.js'
import type { Denylist } from './denylist.js'
import { accessCounts, type AccessCounts } from './session-counters.js'
import { sessionInfo, type InfoLifetimes, type SessionInfo } from './session-info.js'
import { VerifiedTokenCache } from './verified-token-cache.js'

/**
 * Why a token gives no session. `stale`: the token is valid and not known to be revoked, but the revocation
 * view has not been confirmed with a shared store for too long, so another instance may have revoked it: it
 * is neither accepted nor refused (the plugin answers 503 where a session is required).
 */
export type AccessRefusal = VerifyFailure | 'revoked' | 'stale'

export interface AccessCheckOptions {
  codec: TokenCodec
  denylist: Denylist
  clock: Clock
  lifetimes: InfoLifetimes & { leeway: number }
  /** Verified tokens remembered (exact text); 0 turns the cache off. */
  verifiedTokenCacheSize: number
  /** True while the revocation view cannot be vouched for. Default: never. */
  isStale?: () => boolean
  /** Where checks are counted by outcome (session-counters.ts). */
  counts?: AccessCounts
}

export class AccessCheck {
  readonly #o: AccessCheckOptions
  readonly #cache: VerifiedTokenCache<SessionInfo>
  readonly #isStale: () => boolean
  readonly #counts: AccessCounts

  constructor (options: AccessCheckOptions) {
    this.#o = options
    this.#cache = new VerifiedTokenCache(options.verifiedTokenCacheSize)
    this.#isStale = options.isStale ?? (() => false)
    this.#counts = options.counts ?? accessCounts()
  }

  /** The session of an access token, or why there is none. */
  check (token: string): SessionInfo | AccessRefusal {
    const result = this.#check(token)
    this.#counts[typeof result === 'string' ? result : 'valid']++
    return result
  }

  #check (token: string): SessionInfo | AccessRefusal {
    const now = seconds(this.#o.clock)
    let info = this.#cache.get(token)
    if (info === undefined) {
      const verified = this.#o.codec.verify('access', token, now)
      if (!verified.ok) return verified.reason
      info = sessionInfo(verified.claims, this.#o.lifetimes)
      this.#cache.remember(token, info)
    } else if (now >= info.accessExpiresAt + this.#o.lifetimes.leeway) {
      this.#cache.delete(token)
      return 'expired'
    } else {
      this.#counts.cacheHits++
    }
    if (this.#o.denylist.isRevoked(info.tokenId, info.id, info.user.id, info.issuedAt)) return 'revoked'
    return this.#isStale() ? 'stale' : info
  }
}
