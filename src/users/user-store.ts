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

export interface UserStore {
  findByUsername: (username: string) => Promise<UserRecord | undefined>
  findById: (id: string) => Promise<UserRecord | undefined>
  /** Throws UserExistsError when the username is taken. */
  insert: (user: UserRecord) => Promise<void>
  /** False when there is no such user. */
  update: (id: string, patch: UserPatch, now: number) => Promise<boolean>
  list: () => Promise<UserRecord[]>
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

  async update (id: string, patch: UserPatch, now: number): Promise<boolean> {
    const user = this.#byId.get(id)
    if (user === undefined) return false
    this.#byId.set(id, { ...user, ...structuredClone(patch), updatedAt: now })
    return true
  }

  async list (): Promise<UserRecord[]> {
    return [...this.#byId.values()].sort((a, b) => a.createdAt - b.createdAt).map((u) => structuredClone(u))
  }
}
