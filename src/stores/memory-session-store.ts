/**
 * In-process store for tests, demos and single-process use without persistence (`STORE=memory`).
 * Everything is lost on restart. JavaScript runs one callback at a time, so each method is atomic as long as
 * it does not await in the middle, which none does.
 */
import {
  decideRotation,
  familyRevocation,
  rotatedFamily,
  type FamilyRecord,
  type Revocation,
  type RevocationBatch,
  type RotationOutcome,
  type RotationRequest,
  type SessionStore
} from './session-store.js'

function markPosition (mark: string): number {
  const position = Number(mark)
  if (!/^\d{1,15}$/.test(mark) || !Number.isSafeInteger(position)) throw new TypeError(`"${mark}" is not a revocation mark of this store`)
  return position
}

export class MemorySessionStore implements SessionStore {
  readonly #families = new Map<string, FamilyRecord>()
  /** The revocation log; `#offset` is the sequence number of its first element. */
  #log: Revocation[] = []
  #offset = 0
  /** Per subject, the log position of its latest subject revocation, kept until that revocation expires. */
  readonly #subjectRevoked = new Map<string, { position: number, expiresAt: number }>()

  /** The log position the next revocation will take. */
  async revocationMark (): Promise<string> {
    return String(this.#offset + this.#log.length)
  }

  async createFamily (family: FamilyRecord, mark: string): Promise<boolean> {
    const position = markPosition(mark)
    const revoked = this.#subjectRevoked.get(family.user.id)
    if (revoked !== undefined && revoked.position >= position) return false
    this.#families.set(family.id, structuredClone(family))
    return true
  }

  async rotate (request: RotationRequest): Promise<RotationOutcome> {
    const family = this.#families.get(request.familyId)
    switch (decideRotation(family, request)) {
      case 'reject':
        return { outcome: 'rejected' }
      case 'rotate': {
        const next = rotatedFamily(family as FamilyRecord, request)
        this.#families.set(next.id, next)
        return { outcome: 'rotated', family: structuredClone(next) }
      }
      case 'replay':
        return { outcome: 'replayed', family: structuredClone(family as FamilyRecord) }
      case 'reuse': {
        const revocation = this.#revoke(family as FamilyRecord, request.now)
        return { outcome: 'reused', family: structuredClone(family as FamilyRecord), revocation }
      }
    }
  }

  async listFamilies (subject: string, now: number): Promise<FamilyRecord[]> {
    return [...this.#families.values()]
      .filter((f) => f.user.id === subject && f.revokedAt === null && f.refreshExpiresAt > now)
      .sort((a, b) => a.authTime - b.authTime)
      .map((f) => structuredClone(f))
  }

  async revokeFamily (familyId: string, now: number, subject?: string): Promise<Revocation | undefined> {
    const family = this.#families.get(familyId)
    if (family === undefined || (subject !== undefined && family.user.id !== subject)) return undefined
    return family.revokedAt === null ? this.#revoke(family, now) : familyRevocation(family)
  }

  async revokeToken (revocation: Extract<Revocation, { kind: 'token' }>): Promise<void> {
    this.#append(revocation)
  }

  async revokeSubject (revocation: Extract<Revocation, { kind: 'subject' }>, now: number): Promise<Revocation[]> {
    const known = this.#subjectRevoked.get(revocation.id)
    this.#subjectRevoked.set(revocation.id, {
      position: this.#offset + this.#log.length,
      expiresAt: Math.max(known?.expiresAt ?? 0, revocation.expiresAt)
    })
    const recorded: Revocation[] = [this.#append(revocation)]
    for (const family of this.#families.values()) {
      if (family.user.id === revocation.id && family.revokedAt === null) recorded.push(this.#revoke(family, now))
    }
    return recorded
  }

  async loadRevocations (now: number): Promise<RevocationBatch> {
    return {
      revocations: this.#log.filter((r) => r.expiresAt > now).map((r) => ({ ...r })),
      cursor: String(this.#offset + this.#log.length)
    }
  }

  async revocationsSince (cursor: string): Promise<RevocationBatch> {
    const start = Math.max(Number(cursor) - this.#offset, 0)
    return {
      revocations: this.#log.slice(start).map((r) => ({ ...r })),
      cursor: String(this.#offset + this.#log.length)
    }
  }

  async purgeExpired (before: number): Promise<void> {
    for (const [id, family] of this.#families) {
      if (Math.max(family.refreshExpiresAt, family.accessExpiresAt) < before) this.#families.delete(id)
    }
    for (const [subject, { expiresAt }] of this.#subjectRevoked) {
      if (expiresAt < before) this.#subjectRevoked.delete(subject)
    }
    // Only a prefix of the log can go, so cursors stay valid; entries behind a live one wait their turn.
    let drop = 0
    while (drop < this.#log.length && (this.#log[drop] as Revocation).expiresAt < before) drop++
    this.#log = this.#log.slice(drop)
    this.#offset += drop
  }

  async ping (): Promise<void> {}

  async close (): Promise<void> {}

  #revoke (family: FamilyRecord, now: number): Revocation {
    family.revokedAt = now
    return this.#append(familyRevocation(family))
  }

  #append (revocation: Revocation): Revocation {
    this.#log.push({ ...revocation })
    return revocation
  }
}
