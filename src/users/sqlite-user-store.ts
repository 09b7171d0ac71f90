/** The built-in user directory's users in the embedded SQLite database (table `users`). */
import type { Statement } from 'better-sqlite3'
import { UserExistsError } from '../common/errors.js'
import type { SqliteDatabase } from '../stores/sqlite-database.js'
import type { UserPatch, UserRecord, UserStore } from './user-store.js'

interface UserRow {
  id: string
  username: string
  password_hash: string
  roles_json: string
  disabled: number
  created_at: number
  updated_at: number
}

function toUser (row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    roles: JSON.parse(row.roles_json) as string[],
    disabled: row.disabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }
}

export class SqliteUserStore implements UserStore {
  readonly #db: SqliteDatabase
  // Prepared once: every refresh reads its user by id, and compiling the statement each time cost about a
  // tenth of a refresh (CPU profile of `npm run bench`, refresh on SQLite).
  readonly #byUsername: Statement<[string], UserRow>
  readonly #byId: Statement<[string], UserRow>

  constructor (db: SqliteDatabase) {
    this.#db = db
    this.#byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?')
    this.#byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?')
  }

  async findByUsername (username: string): Promise<UserRecord | undefined> {
    const row = this.#byUsername.get(username)
    return row === undefined ? undefined : toUser(row)
  }

  async findById (id: string): Promise<UserRecord | undefined> {
    const row = this.#byId.get(id)
    return row === undefined ? undefined : toUser(row)
  }

  async insert (user: UserRecord): Promise<void> {
    try {
      this.#db.prepare(`INSERT INTO users (id, username, password_hash, roles_json, disabled, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`).run(user.id, user.username, user.passwordHash, JSON.stringify(user.roles),
        user.disabled ? 1 : 0, user.createdAt, user.updatedAt)
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UserExistsError(user.username)
      throw error
    }
  }

  async update (id: string, patch: UserPatch, now: number): Promise<boolean> {
    const user = await this.findById(id)
    if (user === undefined) return false
    const next = { ...user, ...patch }
    this.#db.prepare('UPDATE users SET password_hash = ?, roles_json = ?, disabled = ?, updated_at = ? WHERE id = ?')
      .run(next.passwordHash, JSON.stringify(next.roles), next.disabled ? 1 : 0, now, id)
    return true
  }

  async list (): Promise<UserRecord[]> {
    return this.#db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created_at, username').all().map(toUser)
  }
}
