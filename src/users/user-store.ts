/**
 * Storage of the built-in user directory (standalone service). Embedding apps usually bring their own users
 * and pass `verifyCredentials` instead. Usernames are unique regardless of ASCII case.
 */
import { UserExistsError } from '../common/errors.js'

export interface UserRecord {
  id: string
  username: string
  /** PHC string (argon2id). */
  passwordHash: string
  roles: string[]
  disabled: boolean
  createdAt: number
  updatedAt: number
}

export type UserPatch = Partial<Pick<UserRecord, 'passwordHash' | 'roles' | 'disabled'>>

/**
 * Keeps at least one enabled holder of `role` (the admin role): a change is refused when the user it changes
 * is an enabled holder now, would not be after it, and no other enabled user holds the role. Checked in the
 * same atomic step as the write, so two admins demoting each other at once cannot both succeed.
 */
export interface RoleGuard {
  keepRole: string
}

export type ChangeOutcome = 'done' | 'not-found' | 'last-holder'

export interface UserQuery {
  /** Only usernames containing this text (ignoring ASCII case). */
  search?: string
  offset: number
  limit: number
}

export interface UserPage {
  users: UserRecord[]
  /** Users matching the search, over all pages. */
  total: number
}

/**
 * A user's TOTP second factor as stored: the secret sealed (AES-256-GCM under a key derived from the session
 * secret, see totp.ts), never in clear. `confirmed` once the user proved their app has it.
 */
export interface SecondFactorRecord {
  sealedSecret: string
  confirmed: boolean
  createdAt: number
}

/**
 * Second-factor storage, part of every user store (the contract suite runs on each backend). Each write that
 * must happen once is atomic, across instances sharing the store:
 * - `useRecoveryCode` removes the code's hash and answers true for exactly one of any number of concurrent
 *   calls;
 * - `claimOnce` records a key unless it is already there (unexpired): a TOTP time step used by a user, a
 *   pending login consumed; true for exactly one caller;
 * - `takePending` reads and deletes a pending login in one step.
 * A user's deletion deletes their factor and recovery codes.
 */
export interface SecondFactorStore {
  getSecondFactor: (userId: string) => Promise<SecondFactorRecord | undefined>
  /** Stores (replacing) the factor of an existing user; false when there is no such user. */
  setSecondFactor: (userId: string, factor: SecondFactorRecord) => Promise<boolean>
  /** Removes the factor and every recovery code; false when there was no factor. */
  removeSecondFactor: (userId: string) => Promise<boolean>
  /** Replaces every recovery code of the user with these hashes. */
  setRecoveryCodes: (userId: string, hashes: readonly string[]) => Promise<void>
  useRecoveryCode: (userId: string, hash: string) => Promise<boolean>
  recoveryCodesLeft: (userId: string) => Promise<number>
  /** Records `key` until `expiresAt` (seconds); false when it is already recorded and not expired at `now`. */
  claimOnce: (key: string, expiresAt: number, now: number) => Promise<boolean>
  /** A pending login (first step passed) under `key` until `expiresAt`. */
  putPending: (key: string, value: string, expiresAt: number, now: number) => Promise<void>
  getPending: (key: string, now: number) => Promise<string | undefined>
  /** The pending login's value, deleted in the same step; undefined when absent, expired or already taken. */
  takePending: (key: string, now: number) => Promise<string | undefined>
}

export interface UserStore extends SecondFactorStore {
  findByUsername: (username: string) => Promise<UserRecord | undefined>
  findById: (id: string) => Promise<UserRecord | undefined>
  /** Throws UserExistsError when the username is taken. */
  insert: (user: UserRecord) => Promise<void>
  update: (id: string, patch: UserPatch, now: number, guard?: RoleGuard) => Promise<ChangeOutcome>
  delete: (id: string, guard?: RoleGuard) => Promise<ChangeOutcome>
  /** Every user, oldest first. */
  list: () => Promise<UserRecord[]>
  /** A page of users, oldest first (then by username). */
  page: (query: UserQuery) => Promise<UserPage>
}

/** True when `user` is an enabled holder of `role`. */
export function holds (user: Pick<UserRecord, 'roles' | 'disabled'>, role: string): boolean {
  return !user.disabled && user.roles.includes(role)
}

/** Whether applying `patch` (or deleting, with no patch) to `user` removes the last enabled holder of the guarded role. */
export function removesLastHolder (user: UserRecord, patch: UserPatch | undefined, guard: RoleGuard | undefined, otherHolders: () => number): boolean {
  if (guard === undefined || !holds(user, guard.keepRole)) return false
  if (patch !== undefined && holds({ ...user, ...patch }, guard.keepRole)) return false
  return otherHolders() === 0
}

export function byCreation (a: UserRecord, b: UserRecord): number {
  return a.createdAt - b.createdAt || (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)
}

export class MemoryUserStore implements UserStore {
  readonly #byId = new Map<string, UserRecord>()
  readonly #factors = new Map<string, SecondFactorRecord>()
  readonly #codes = new Map<string, Set<string>>()
  readonly #once = new Map<string, { value: string, expiresAt: number }>()

  async findByUsername (username: string): Promise<UserRecord | undefined> {
    const wanted = username.toLowerCase()
    for (const user of this.#byId.values()) {
      if (user.username.toLowerCase() === wanted) return structuredClone(user)
    }
    return undefined
  }

  async findById (id: string): Promise<UserRecord | undefined> {
    const user = this.#byId.get(id)
    return user === undefined ? undefined : structuredClone(user)
  }

  async insert (user: UserRecord): Promise<void> {
    if (await this.findByUsername(user.username) !== undefined) throw new UserExistsError(user.username)
    this.#byId.set(user.id, structuredClone(user))
  }

  async update (id: string, patch: UserPatch, now: number, guard?: RoleGuard): Promise<ChangeOutcome> {
    const user = this.#byId.get(id)
    if (user === undefined) return 'not-found'
    if (removesLastHolder(user, patch, guard, () => this.#otherHolders(id, guard))) return 'last-holder'
    this.#byId.set(id, { ...user, ...structuredClone(patch), updatedAt: now })
    return 'done'
  }

  async delete (id: string, guard?: RoleGuard): Promise<ChangeOutcome> {
    const user = this.#byId.get(id)
    if (user === undefined) return 'not-found'
    if (removesLastHolder(user, undefined, guard, () => this.#otherHolders(id, guard))) return 'last-holder'
    this.#byId.delete(id)
    this.#factors.delete(id)
    this.#codes.delete(id)
    return 'done'
  }

  async getSecondFactor (userId: string): Promise<SecondFactorRecord | undefined> {
    const factor = this.#factors.get(userId)
    return factor === undefined ? undefined : { ...factor }
  }

  async setSecondFactor (userId: string, factor: SecondFactorRecord): Promise<boolean> {
    if (!this.#byId.has(userId)) return false
    this.#factors.set(userId, { ...factor })
    return true
  }

  async removeSecondFactor (userId: string): Promise<boolean> {
    this.#codes.delete(userId)
    return this.#factors.delete(userId)
  }

  async setRecoveryCodes (userId: string, hashes: readonly string[]): Promise<void> {
    this.#codes.set(userId, new Set(hashes))
  }

  async useRecoveryCode (userId: string, hash: string): Promise<boolean> {
    return this.#codes.get(userId)?.delete(hash) ?? false
  }

  async recoveryCodesLeft (userId: string): Promise<number> {
    return this.#codes.get(userId)?.size ?? 0
  }

  async claimOnce (key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#purge(now)
    if (this.#once.has(`once:${key}`)) return false
    this.#once.set(`once:${key}`, { value: '', expiresAt })
    return true
  }

  async putPending (key: string, value: string, expiresAt: number, _now: number): Promise<void> {
    this.#once.set(`pending:${key}`, { value, expiresAt })
  }

  async getPending (key: string, now: number): Promise<string | undefined> {
    this.#purge(now)
    return this.#once.get(`pending:${key}`)?.value
  }

  async takePending (key: string, now: number): Promise<string | undefined> {
    this.#purge(now)
    const value = this.#once.get(`pending:${key}`)?.value
    this.#once.delete(`pending:${key}`)
    return value
  }

  #purge (now: number): void {
    for (const [key, entry] of this.#once) if (entry.expiresAt <= now) this.#once.delete(key)
  }

  async list (): Promise<UserRecord[]> {
    return [...this.#byId.values()].sort(byCreation).map((u) => structuredClone(u))
  }

  async page (query: UserQuery): Promise<UserPage> {
    const search = query.search?.toLowerCase()
    const matching = (await this.list()).filter((u) => search === undefined || u.username.toLowerCase().includes(search))
    return { users: matching.slice(query.offset, query.offset + query.limit), total: matching.length }
  }

  #otherHolders (id: string, guard: RoleGuard | undefined): number {
    let count = 0
    for (const user of this.#byId.values()) if (user.id !== id && guard !== undefined && holds(user, guard.keepRole)) count++
    return count
  }
}
