/**
 * Nested tokens: a JWS (HS256, jws.ts), encrypted into a compact JWE (RFC 7519 §5.2, §A.2).
 * Both layers are always checked, in this order, and every failure is just "no token" to the caller, with a
 * reason kept for debug logs only.
 */
import { checkClaims, type AccessClaims, type BaseClaims, type ClaimRules, type RefreshClaims } from './claims.js'
import { decryptJwe, encryptJwe, parseCompactJwe } from './jwe.js'
import type { Jws } from './jws.js'
import type { KeyRing, TokenKind } from './keys.js'

export type VerifyFailure = 'malformed' | 'unknown-key' | 'decrypt' | 'signature' | 'claims' | 'expired' | 'not-yet-valid'
export type VerifyResult<C> = { ok: true, claims: C } | { ok: false, reason: VerifyFailure }

export interface TokenCodecOptions {
  ring: KeyRing
  jws: Jws
  rules: ClaimRules
}

export class TokenCodec {
  readonly #ring: KeyRing
  readonly #jws: Jws
  readonly rules: ClaimRules

  constructor (options: TokenCodecOptions) {
    this.#ring = options.ring
    this.#jws = options.jws
    this.rules = options.rules
  }

  /** Signs and encrypts fully formed claims under the current secret. */
  mint (kind: 'access', claims: AccessClaims): string
  mint (kind: 'refresh', claims: RefreshClaims): string
  mint (kind: TokenKind, claims: BaseClaims): string {
    const key = this.#ring.encryptionKeyFor(kind, claims.iat)
    return encryptJwe(this.#jws.sign(kind, claims), key.kid, key.key)
  }

  verify (kind: 'access', token: string, now: number): VerifyResult<AccessClaims>
  verify (kind: 'refresh', token: string, now: number): VerifyResult<RefreshClaims>
  verify (kind: TokenKind, token: string, now: number): VerifyResult<BaseClaims> {
    const jwe = parseCompactJwe(token)
    if (jwe === undefined) return { ok: false, reason: 'malformed' }
    const key = this.#ring.encryptionKeyForKid(kind, jwe.kid, now)
    if (key === undefined) return { ok: false, reason: 'unknown-key' }
    const inner = decryptJwe(jwe, key.key)
    if (inner === undefined) return { ok: false, reason: 'decrypt' }
    const payload = this.#jws.verify(kind, key.fingerprint, inner)
    if (payload === undefined) return { ok: false, reason: 'signature' }
    return checkClaims(kind, payload, this.rules, now)
  }
}
