/**
 * The in-memory view of the revocation denylist, so checking an access token needs no I/O.
 * Revocations are keyed on what a token carries, never on its text (docs/security.md rule 12): a token id (`jti`),
 * a session family (`sid`), or a subject with a "not before" time. Each entry expires once nothing it covers
 * can still be valid, so the view stays as small as the set of revocations that matter.
 */
import type { Revocation } from '../stores/session-store.js'

export class Denylist {
  // Maps of id -> expiry (seconds). Numbers below 2^31 stay small integers in V8, which keeps 1,000,000
  // entries well under 250 MB (docs/benchmarks.md).
  readonly #tokens = new Map<string, number>()
  readonly #families = new Map<string, number>()
  readonly #subjects = new Map<string, { notBefore: number, expiresAt: number }>()

  add (revocation: Revocation): void {
    switch (revocation.kind) {
      case 'token':
        keepLater(this.#tokens, revocation.id, revocation.expiresAt)
        break
      case 'family':
        keepLater(this.#families, revocation.id, revocation.expiresAt)
        break
      case 'subject': {
        const known = this.#subjects.get(revocation.id)
        this.#subjects.set(revocation.id, {
          notBefore: Math.max(known?.notBefore ?? 0, revocation.notBefore),
          expiresAt: Math.max(known?.expiresAt ?? 0, revocation.expiresAt)
        })
        break
      }
    }
  }

  addAll (revocations: Iterable<Revocation>): void {
    for (const revocation of revocations) this.add(revocation)
  }

  /**
   * True when the token (`jti`), its family (`sid`) or its subject (`sub`, for tokens issued before the
   * subject's "not before") has been revoked. O(1): three hash lookups.
   */
  isRevoked (jti: string, sid: string, sub: string, iat: number): boolean {
    if (this.#tokens.has(jti) || this.#families.has(sid)) return true
    const subject = this.#subjects.get(sub)
    return subject !== undefined && iat < subject.notBefore
  }

  isFamilyRevoked (familyId: string): boolean {
    return this.#families.has(familyId)
  }

  /** Drops entries whose covered tokens have all expired by `now` (seconds). */
  purge (now: number): number {
    let removed = 0
    for (const map of [this.#tokens, this.#families]) {
      for (const [id, expiresAt] of map) {
        if (expiresAt <= now) {
          map.delete(id)
          removed++
        }
      }
    }
    for (const [id, { expiresAt }] of this.#subjects) {
      if (expiresAt <= now) {
        this.#subjects.delete(id)
        removed++
      }
    }
    return removed
  }

  /** Every entry, as revocations: what an instance republishes when the shared store lost its log. */
  entries (): Revocation[] {
    return [
      ...[...this.#tokens].map(([id, expiresAt]): Revocation => ({ kind: 'token', id, expiresAt })),
      ...[...this.#families].map(([id, expiresAt]): Revocation => ({ kind: 'family', id, expiresAt })),
      ...[...this.#subjects].map(([id, s]): Revocation => ({ kind: 'subject', id, notBefore: s.notBefore, expiresAt: s.expiresAt }))
    ]
  }

  get size (): number {
    return this.#tokens.size + this.#families.size + this.#subjects.size
  }
}

function keepLater (map: Map<string, number>, id: string, expiresAt: number): void {
  const known = map.get(id)
  if (known === undefined || known < expiresAt) map.set(id, expiresAt)
}
