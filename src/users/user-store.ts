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

export interface UserStore {
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
    return 'done'
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
