/**
 * The store contract. Every backend (memory, SQLite, Redis) implements it and passes the same contract suite
 * (test/stores/contract.ts). Times are Unix seconds.
 *
 * What lives here, and only here: one record per session family (login) holding the ids of its current token
 * pair, for rotation and reuse detection; and the append-only log of revocations that every instance's
 * in-memory denylist is built from. Checking an access token never reads the store.
 *
 * Rules each backend must keep:
 * - `rotate` is one atomic compare-and-set on the family's current refresh token id: of any number of
 *   concurrent calls presenting the same token, exactly one rotates; the others see `replayed` (inside the
 *   grace window) or `reused`. A family never forks into two live chains.
 * - A revocation is durable once the promise resolves, and is returned by `revocationsSince` of every
 *   instance sharing the store. The family's status and its revocation record change together.
 * - `createFamily` refuses (answers false, writes nothing) when a subject revocation of the family's user was
 *   recorded after the `mark` the login took from `revocationMark` before it checked the credentials; the check
 *   and the write are one atomic step. So a login that read credentials which a change (password, disable,
 *   deletion, role removal: each records a subject revocation once it is done) has since replaced cannot
 *   open a session after that change ended the user's sessions. Exact, by order in the store, not by time.
 * - The record of a subject revocation is kept at least until the revocation expires.
 * - Any failure rejects the promise (the service answers 503); nothing is left half-written.
 * - A backend that can lose its data while running (Redis restarted without persistence) rejects
 *   `revocationsSince` with RevocationLogLostError once the log a cursor points into is gone; the sync then
 *   reloads from `loadRevocations` and keeps what it already knew.
 */

/**
 * A revocation, keyed on what a token carries, never on its text: a token id (`jti`), a session family (`sid`),
 * or a subject with a "not before" time. It expires once nothing it covers can still be valid.
 */
import type { AppClaims } from '../tokens/claims.js'

export type Revocation =
  | { kind: 'token', id: string, expiresAt: number }
  | { kind: 'family', id: string, expiresAt: number }
  /** Tokens of `id` issued before `notBefore` (seconds) are revoked. */
  | { kind: 'subject', id: string, notBefore: number, expiresAt: number }

/** The public profile carried in access tokens. Nothing secret. */
export interface SessionUser {
  id: string
  username: string
  roles: string[]
  /**
   * A few app-defined claims (tenant, locale, ...): flat string, number or boolean values, typed by the app's
   * SessionClaims. Carried in the access token, kept across refreshes with the rest of the profile;
   * `request.session.claims` reads them.
   */
  claims?: AppClaims
}

export interface FamilyRecord {
  id: string
  user: SessionUser
  /** Login time: `login_time` of every token in the family (the absolute lifetime counts from it). */
  authTime: number
  /** Id of the current refresh token. */
  refreshJti: string
  /** Id of its immediate predecessor, honoured for `graceSeconds` after `rotatedAt`. */
  previousRefreshJti: string | null
  /** Id of the access token issued with the current refresh token. */
  accessJti: string
  /** `iat` of the current pair: the last rotation, or the login. */
  rotatedAt: number
  refreshExpiresAt: number
  accessExpiresAt: number
  /** Rotations so far (0 after login). */
  generation: number
  userAgent: string | null
  /** The client's address as the service saw it (after its trusted-proxy rules) at the last login or refresh. */
  clientAddress: string | null
  revokedAt: number | null
}

export interface RotationRequest {
  familyId: string
  /** The `sub` of the presented token; a family of another subject is `rejected`. */
  subject: string
  presentedJti: string
  now: number
  graceSeconds: number
  /** The successor pair, used only if this call wins the rotation. */
  next: Pick<FamilyRecord, 'refreshJti' | 'accessJti' | 'refreshExpiresAt' | 'accessExpiresAt'> & {
    /** A fresher profile of the user (from `findUser`); without it the family keeps the one it has. */
    user?: SessionUser
    /** Where the refresh came from; without it the family keeps the address it has. */
    clientAddress?: string
  }
}

export type RotationOutcome =
  /** The presented token was current: the family now holds `next`. */
  | { outcome: 'rotated', family: FamilyRecord }
  /** The immediate predecessor, inside the grace window: the family's current pair is handed out again. */
  | { outcome: 'replayed', family: FamilyRecord }
  /** Any other stale token: the family is revoked by this call (the revocation is already recorded). */
  | { outcome: 'reused', family: FamilyRecord, revocation: Revocation }
  /** Unknown family, another subject's family, or one already revoked. */
  | { outcome: 'rejected' }

export interface RevocationBatch {
  revocations: Revocation[]
  /** Opaque position in the revocation log, for `revocationsSince`. */
  cursor: string
}

/** A batch from a revocation feed: `complete` is false when more revocations are already waiting. */
export interface RevocationFeedBatch extends RevocationBatch {
  complete: boolean
}

export interface SessionStore {
  /**
   * The store's position in its record of subject revocations, as an opaque mark: a login takes it before it
   * checks credentials, and hands it to `createFamily`.
   */
  revocationMark: () => Promise<string>
  /**
   * Records a new family (a login), unless a subject revocation of `family.user.id` was recorded after `mark`
   * (a mark of this store): then it records nothing and answers false. Check and write are atomic.
   */
  createFamily: (family: FamilyRecord, mark: string) => Promise<boolean>
  rotate: (request: RotationRequest) => Promise<RotationOutcome>
  /** Live families of a subject: not revoked and with a refresh token not yet expired at `now`. */
  listFamilies: (subject: string, now: number) => Promise<FamilyRecord[]>
  /**
   * Revokes one family; with `subject`, only if it belongs to that subject. Undefined when there is no such
   * family. Revoking a revoked family returns its revocation again (idempotent).
   */
  revokeFamily: (familyId: string, now: number, subject?: string) => Promise<Revocation | undefined>
  /** Records the revocation of a single token id (an access token at logout). */
  revokeToken: (revocation: Extract<Revocation, { kind: 'token' }>) => Promise<void>
  /**
   * Ends every session of a subject: records a "not before" revocation and revokes all its live families,
   * atomically. Returns every revocation recorded.
   */
  revokeSubject: (revocation: Extract<Revocation, { kind: 'subject' }>, now: number) => Promise<Revocation[]>
  /** Every revocation still in force at `now`, and the log position after them. */
  loadRevocations: (now: number) => Promise<RevocationBatch>
  /** Revocations recorded (by any instance or process) after `cursor`. */
  revocationsSince: (cursor: string) => Promise<RevocationBatch>
  /** Deletes revocations and families whose tokens all expired before `before`. */
  purgeExpired: (before: number) => Promise<void>
  /**
   * Optional, for stores shared over the network (Redis): revocations after `cursor` as soon as they are
   * recorded, waiting at most about `timeoutMs` (then an empty batch). Rejects when the store cannot be reached,
   * with RevocationLogLostError like `revocationsSince`, and promptly once `signal` aborts.
   */
  waitForRevocations?: (cursor: string, timeoutMs: number, signal: AbortSignal) => Promise<RevocationFeedBatch>
  /**
   * Optional, for a store shared with other processes without push (SQLite): true when another connection
   * (another process: a worker, the users CLI) may have committed since the last call. Synchronous and cheap
   * (SQLite: `PRAGMA data_version`, no table read), so the sync can ask every few milliseconds and read the log
   * only when it answers true. The first call answers true. Never true for this connection's own writes: those
   * the service applies itself.
   */
  changedByOthers?: () => boolean
  /**
   * Optional, with `waitForRevocations`: appends revocations to the log again after the store lost it, so
   * that instances started later learn what the surviving instances still knew.
   */
  restoreRevocations?: (revocations: Revocation[]) => Promise<void>
  /**
   * Optional: true for an error of this store's backend that means "cannot serve right now" (Redis
   * disconnected, timed out, read-only after a failover). An error like that reaching the HTTP error handler
   * from another plugin sharing the connection is then answered 503, not 500.
   */
  isUnavailableError?: (error: unknown) => boolean
  /** Resolves when the store answers; rejects otherwise. */
  ping: () => Promise<void>
  close: () => Promise<void>
}

/** The expiry of a family's revocation: when the last token it could have issued expires. */
export function familyRevocation (family: FamilyRecord): Revocation {
  return { kind: 'family', id: family.id, expiresAt: Math.max(family.refreshExpiresAt, family.accessExpiresAt) }
}

/**
 * The decision of `rotate`, shared by every backend so they cannot drift: given the family as read inside
 * the backend's atomic section, what happens.
 */
export function decideRotation (family: FamilyRecord | undefined, request: RotationRequest): 'rotate' | 'replay' | 'reuse' | 'reject' {
  if (family === undefined || family.user.id !== request.subject || family.revokedAt !== null) return 'reject'
  if (family.refreshJti === request.presentedJti) return 'rotate'
  if (family.previousRefreshJti === request.presentedJti && request.now - family.rotatedAt <= request.graceSeconds) return 'replay'
  return 'reuse'
}

/** The family after a successful rotation. */
export function rotatedFamily (family: FamilyRecord, request: RotationRequest): FamilyRecord {
  return {
    ...family,
    ...request.next,
    previousRefreshJti: family.refreshJti,
    rotatedAt: request.now,
    generation: family.generation + 1
  }
}
