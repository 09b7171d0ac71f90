/**
 * A user's sessions read and ended straight in the store, for a process that serves no requests (the users
 * CLI): no tokens, no keys, no denylist to load. The services that do serve requests learn of what it records
 * through their revocation feed (SQLite: the next poll; Redis: pushed).
 */
import { seconds, type Clock } from '../common/clock.js'
import { StoreUnavailableError } from '../common/errors.js'
import type { Revocation, SessionStore } from '../stores/session-store.js'

/** The lifetimes a subject revocation must outlast: every token issued before it. */
export interface TokenLifetimes {
  accessTtl: number
  refreshIdleTtl: number
}

/** A "not before" revocation of the user, lasting as long as any token issued before it could. */
export function subjectRevocation (userId: string, now: number, lifetimes: TokenLifetimes): Extract<Revocation, { kind: 'subject' }> {
  return { kind: 'subject', id: userId, notBefore: now, expiresAt: now + Math.max(lifetimes.accessTtl, lifetimes.refreshIdleTtl) }
}

export interface StoredSession {
  id: string
  /** Login time (epoch seconds). */
  createdAt: number
  /** The last refresh, or the login. */
  lastRefreshedAt: number
  userAgent: string | null
  clientAddress: string | null
}

export interface StoredSessionsOptions {
  store: SessionStore
  clock: Clock
  lifetimes: TokenLifetimes
}

async function fromStore<T> (operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (cause) {
    throw new StoreUnavailableError({ cause })
  }
}

export class StoredSessions {
  readonly #o: StoredSessionsOptions

  constructor (options: StoredSessionsOptions) {
    this.#o = options
  }

  /** The live sessions of a user: not revoked, refresh token not expired. */
  async list (userId: string): Promise<StoredSession[]> {
    const families = await fromStore(async () => await this.#o.store.listFamilies(userId, seconds(this.#o.clock)))
    return families.map((f) => ({ id: f.id, createdAt: f.authTime, lastRefreshedAt: f.rotatedAt, userAgent: f.userAgent, clientAddress: f.clientAddress }))
  }

  /** Ends every session of the user, logins in flight included; answers how many live ones it ended. */
  async endAll (userId: string): Promise<number> {
    const now = seconds(this.#o.clock)
    const revocations = await fromStore(async () => await this.#o.store.revokeSubject(subjectRevocation(userId, now, this.#o.lifetimes), now))
    return revocations.length - 1
  }

  /** Ends one session of the user; false when the user has no such session. */
  async end (userId: string, familyId: string): Promise<boolean> {
    const now = seconds(this.#o.clock)
    return await fromStore(async () => await this.#o.store.revokeFamily(familyId, now, userId)) !== undefined
  }
}
