/**
 * Key derivation and the key ring. Every key is derived with HKDF-SHA256 from a master secret, separately per
 * token kind and purpose (RFC 8725 §3.5; docs/security.md rule 7), so a key of one kind never opens the other.
 *
 * Encryption keys are also split by hour ("epoch"): each AES-GCM key then sees far fewer than 2^32 random
 * IVs (NIST SP 800-38D §8.3) however busy the service is, and no operator action is needed for it.
 * The `kid` of a token is `<fingerprint>.<epoch>`; the fingerprint names the secret and is looked up in a
 * fixed map, the epoch is range-checked. docs/token-format.md describes the derivation exactly.
 */
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto'

export type TokenKind = 'access' | 'refresh'

export const KEY_EPOCH_SECONDS = 3600
const LABEL = 'stateless-session/v1'
const KID_PATTERN = /^([A-Za-z0-9_-]{8})\.(0|[1-9][0-9]{0,9})$/

function derive (secret: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, length))
}

/** The public name of a secret: 6 derived bytes, base64url. Reveals nothing usable about the secret. */
export function secretFingerprint (secret: Buffer): string {
  return derive(secret, `${LABEL} key-id`, 6).toString('base64url')
}

export function deriveSigningKey (secret: Buffer, kind: TokenKind): Buffer {
  return derive(secret, `${LABEL} ${kind} jws`, 32)
}

export function deriveEncryptionKey (secret: Buffer, kind: TokenKind, epoch: number): Buffer {
  return derive(secret, `${LABEL} ${kind} jwe ${epoch}`, 32)
}

export interface SecretEntry {
  /** Names the secret in `kid`s. */
  fingerprint: string
  secret: Buffer
  signing: Record<TokenKind, Buffer>
}

export interface EncryptionKey {
  kid: string
  key: KeyObject
  /** The secret this key was derived from, so the inner JWS is checked with the same generation. */
  fingerprint: string
}

export interface KeyRingOptions {
  current: Buffer
  previous: readonly Buffer[]
  /** Longest token lifetime per kind, in seconds: bounds the epochs accepted in a `kid`. */
  maxLifetime: Record<TokenKind, number>
  leewaySeconds: number
}

/** All secrets in use (current first) and the keys derived from them, computed once and cached. */
export class KeyRing {
  readonly current: SecretEntry
  readonly entries: readonly SecretEntry[]
  readonly #byFingerprint = new Map<string, SecretEntry>()
  readonly #encryption: Record<TokenKind, Map<string, EncryptionKey>> = { access: new Map(), refresh: new Map() }
  readonly #maxLifetime: Record<TokenKind, number>
  readonly #leeway: number

  constructor (options: KeyRingOptions) {
    this.#maxLifetime = { ...options.maxLifetime }
    this.#leeway = options.leewaySeconds
    const entries = [options.current, ...options.previous].map((secret): SecretEntry => ({
      fingerprint: secretFingerprint(secret),
      secret,
      signing: { access: deriveSigningKey(secret, 'access'), refresh: deriveSigningKey(secret, 'refresh') }
    }))
    for (const entry of entries) {
      if (!this.#byFingerprint.has(entry.fingerprint)) this.#byFingerprint.set(entry.fingerprint, entry)
    }
    this.entries = [...this.#byFingerprint.values()]
    this.current = entries[0] as SecretEntry
  }

  /** The key new tokens of this kind are encrypted with at `nowSeconds`. */
  encryptionKeyFor (kind: TokenKind, nowSeconds: number): EncryptionKey {
    const epoch = Math.floor(nowSeconds / KEY_EPOCH_SECONDS)
    const kid = `${this.current.fingerprint}.${epoch}`
    return this.#encryption[kind].get(kid) ?? this.#remember(kind, kid, this.current, epoch)
  }

  /**
   * The key a received token names, or undefined: unknown secret (retired or foreign), an epoch older than
   * any live token of that kind could be, or one in the future.
   */
  encryptionKeyForKid (kind: TokenKind, kid: string, nowSeconds: number): EncryptionKey | undefined {
    const cached = this.#encryption[kind].get(kid)
    const epoch = cached === undefined ? this.#parseEpoch(kid) : Number(kid.slice(9))
    if (epoch === undefined || !this.#epochInWindow(kind, epoch, nowSeconds)) return undefined
    if (cached !== undefined) return cached
    const entry = this.#byFingerprint.get(kid.slice(0, 8))
    return entry === undefined ? undefined : this.#remember(kind, kid, entry, epoch)
  }

  #parseEpoch (kid: string): number | undefined {
    const match = KID_PATTERN.exec(kid)
    return match === null ? undefined : Number(match[2])
  }

  #epochInWindow (kind: TokenKind, epoch: number, nowSeconds: number): boolean {
    const newest = Math.floor((nowSeconds + this.#leeway) / KEY_EPOCH_SECONDS)
    const oldest = Math.floor((nowSeconds - this.#maxLifetime[kind] - this.#leeway) / KEY_EPOCH_SECONDS)
    return epoch >= oldest && epoch <= newest
  }

  #remember (kind: TokenKind, kid: string, entry: SecretEntry, epoch: number): EncryptionKey {
    const cache = this.#encryption[kind]
    // The window holds at most maxLifetime/epoch keys per secret; clearing now and then keeps the map bounded
    // without tracking ages (a cleared key is re-derived in a few microseconds).
    if (cache.size >= 4096) cache.clear()
    const value: EncryptionKey = {
      kid,
      key: createSecretKey(deriveEncryptionKey(entry.secret, kind, epoch)),
      fingerprint: entry.fingerprint
    }
    cache.set(kid, value)
    return value
  }
}
