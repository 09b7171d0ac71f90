/**
 * A bounded memory of access tokens already verified, so a session's every request after its second does not
 * decrypt and check its token again. It only saves the crypto: the caller still checks expiry and revocation
 * on every hit (access-check.ts).
 */

/** Slots of the admission filter (64 KiB); a power of two. */
const SEEN_SLOTS = 16384
/** Characters at the end of a token (its GCM tag) that the admission filter fingerprints. */
const FINGERPRINT_CHARS = 12
/** The cache's key: the token's last 22 characters, its GCM authentication tag (16 bytes, base64url). */
const KEY_CHARS = 22

/**
 * Entries are keyed on the tag rather than the whole token: a token arrives as a new string on every request,
 * and V8 hashes all of a string's 600-odd characters on its first Map lookup, about 0.8 µs against 0.2 µs for
 * the tag (micro-benchmark of both lookups on fresh strings). The tag differs from token to token; a hit still
 * needs the exact token text, so a token that shares a tag but not its text is verified in full.
 */
interface Entry<V> {
  token: string
  value: V
}

export class VerifiedTokenCache<V> {
  readonly #size: number
  readonly #entries = new Map<string, Entry<V>>()
  /** Keys in insertion order, as a ring: `#oldest` is the next to go once the ring is full. */
  readonly #order: string[] = []
  #oldest = 0
  /** Admission filter: a 32-bit fingerprint of each recently verified token, by slot (0 = empty). */
  readonly #seenOnce = new Int32Array(SEEN_SLOTS)

  /** `size` entries at most; 0 turns the cache off. */
  constructor (size: number) {
    this.#size = size
  }

  /** The value remembered for exactly this token text, if any. */
  get (token: string): V | undefined {
    const entry = this.#entries.get(token.slice(-KEY_CHARS))
    return entry !== undefined && entry.token === token ? entry.value : undefined
  }

  /** Forgets a token (expired, say): its next use is verified in full. */
  delete (token: string): void {
    this.#entries.delete(token.slice(-KEY_CHARS))
  }

  /**
   * Called after each full verification. A token enters the cache the second time it is verified, not the
   * first: a session presents its access token on every request for minutes, so it is cached from its second
   * request on; a token seen only once (a client that never comes back, a flood of distinct tokens) never
   * takes a place, never evicts a useful entry and is never kept alive for the garbage collector to move:
   * caching every cold token cost about 11 µs per cold request (`npm run bench`, cold route, cache on
   * against off).
   */
  remember (token: string, value: V): void {
    if (this.#size === 0 || !this.#seenBefore(token)) return
    const key = token.slice(-KEY_CHARS)
    // First in, first out: a hit costs one Map lookup and no bookkeeping; the oldest entry goes when full.
    // The order is kept in a ring rather than read from the Map (`keys().next()`): V8 leaves deleted Map
    // slots in place until it rehashes, so finding the first live key walked thousands of holes, about 6 µs
    // per cold request (CPU profile of `npm run bench`, cold route).
    if (this.#order.length < this.#size) {
      this.#order.push(key)
    } else {
      // A token dropped earlier (expired) is no longer in the Map: deleting it again is harmless.
      this.#entries.delete(this.#order[this.#oldest] as string)
      this.#order[this.#oldest] = key
      this.#oldest = (this.#oldest + 1) % this.#size
    }
    this.#entries.set(key, { token, value })
  }

  /**
   * The fingerprint covers the last characters of the token, its authentication tag: a collision only admits
   * a token one verification early, and a hit still needs the exact token text.
   */
  #seenBefore (token: string): boolean {
    let hash = 0x811c9dc5 | 0
    for (let i = token.length - FINGERPRINT_CHARS; i < token.length; i++) hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193)
    hash |= 1
    const slot = (hash >>> 8) & (SEEN_SLOTS - 1)
    if (this.#seenOnce[slot] === hash) return true
    this.#seenOnce[slot] = hash
    return false
  }
}
