/** The built-in user directory's users in the embedded SQLite database (table `users`). */
import type { Statement } from 'better-sqlite3'
import { UserExistsError } from '../common/errors.js'
import type { SqliteDatabase } from '../stores/sqlite-database.js'
import { removesLastHolder, type ChangeOutcome, type RoleGuard, type SecondFactorRecord, type UserPatch, type UserPage, type UserQuery, type UserRecord, type UserStore } from './user-store.js'

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

  // Check and write in one IMMEDIATE transaction: the last-admin guard holds across processes (the CLI).
  readonly #update: (id: string, patch: UserPatch, now: number, guard?: RoleGuard) => ChangeOutcome
  readonly #delete: (id: string, guard?: RoleGuard) => ChangeOutcome
  readonly #setCodes: (userId: string, hashes: readonly string[]) => void
  readonly #claim: (key: string, expiresAt: number, now: number) => boolean

  constructor (db: SqliteDatabase) {
    this.#db = db
    this.#byUsername = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?')
    this.#byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?')
    const write = db.prepare('UPDATE users SET password_hash = ?, roles_json = ?, disabled = ?, updated_at = ? WHERE id = ?')
    const remove = db.prepare('DELETE FROM users WHERE id = ?')
    this.#update = db.transaction((id: string, patch: UserPatch, now: number, guard?: RoleGuard): ChangeOutcome => {
      const row = this.#byId.get(id)
      if (row === undefined) return 'not-found'
      const user = toUser(row)
      if (removesLastHolder(user, patch, guard, () => this.#otherHolders(id, guard?.keepRole ?? ''))) return 'last-holder'
      const next = { ...user, ...patch }
      write.run(next.passwordHash, JSON.stringify(next.roles), next.disabled ? 1 : 0, now, id)
      return 'done'
    }).immediate
    this.#delete = db.transaction((id: string, guard?: RoleGuard): ChangeOutcome => {
      const row = this.#byId.get(id)
      if (row === undefined) return 'not-found'
      if (removesLastHolder(toUser(row), undefined, guard, () => this.#otherHolders(id, guard?.keepRole ?? ''))) return 'last-holder'
      remove.run(id)
      db.prepare('DELETE FROM second_factors WHERE user_id = ?').run(id)
      db.prepare('DELETE FROM recovery_codes WHERE user_id = ?').run(id)
      return 'done'
    }).immediate
    this.#setCodes = db.transaction((userId: string, hashes: readonly string[]) => {
      db.prepare('DELETE FROM recovery_codes WHERE user_id = ?').run(userId)
      const insert = db.prepare('INSERT OR IGNORE INTO recovery_codes (user_id, code_hash) VALUES (?, ?)')
      for (const hash of hashes) insert.run(userId, hash)
    }).immediate
    this.#claim = db.transaction((key: string, expiresAt: number, now: number): boolean => {
      db.prepare('DELETE FROM once_keys WHERE expires_at <= ?').run(now)
      return db.prepare("INSERT OR IGNORE INTO once_keys (key, value, expires_at) VALUES (?, '', ?)").run(`once:${key}`, expiresAt).changes === 1
    }).immediate
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

  async update (id: string, patch: UserPatch, now: number, guard?: RoleGuard): Promise<ChangeOutcome> {
    return this.#update(id, patch, now, guard)
  }

  async delete (id: string, guard?: RoleGuard): Promise<ChangeOutcome> {
    return this.#delete(id, guard)
  }

  async list (): Promise<UserRecord[]> {
    return this.#db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created_at, username COLLATE BINARY').all().map(toUser)
  }

  async page (query: UserQuery): Promise<UserPage> {
    // LIKE ignores ASCII case in SQLite; the search text is matched literally.
    const pattern = `%${(query.search ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    return this.#db.transaction(() => ({
      users: this.#db.prepare<[string, number, number], UserRow>(`SELECT * FROM users WHERE username LIKE ? ESCAPE '\\'
        ORDER BY created_at, username COLLATE BINARY LIMIT ? OFFSET ?`).all(pattern, query.limit, query.offset).map(toUser),
      total: (this.#db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM users WHERE username LIKE ? ESCAPE '\\'").get(pattern) as { n: number }).n
    }))()
  }

  async getSecondFactor (userId: string): Promise<SecondFactorRecord | undefined> {
    const row = this.#db.prepare<[string], { sealed_secret: string, confirmed: number, created_at: number }>('SELECT * FROM second_factors WHERE user_id = ?').get(userId)
    return row === undefined ? undefined : { sealedSecret: row.sealed_secret, confirmed: row.confirmed === 1, createdAt: row.created_at }
  }

  async setSecondFactor (userId: string, factor: SecondFactorRecord): Promise<boolean> {
    return this.#db.prepare(`INSERT INTO second_factors (user_id, sealed_secret, confirmed, created_at)
      SELECT id, ?, ?, ? FROM users WHERE id = ?
      ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, confirmed = excluded.confirmed, created_at = excluded.created_at`)
      .run(factor.sealedSecret, factor.confirmed ? 1 : 0, factor.createdAt, userId).changes === 1
  }

  async removeSecondFactor (userId: string): Promise<boolean> {
    return this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM recovery_codes WHERE user_id = ?').run(userId)
      return this.#db.prepare('DELETE FROM second_factors WHERE user_id = ?').run(userId).changes === 1
    }).immediate()
  }

  async setRecoveryCodes (userId: string, hashes: readonly string[]): Promise<void> {
    this.#setCodes(userId, hashes)
  }

  async useRecoveryCode (userId: string, hash: string): Promise<boolean> {
    return this.#db.prepare('DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?').run(userId, hash).changes === 1
  }

  async recoveryCodesLeft (userId: string): Promise<number> {
    return (this.#db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM recovery_codes WHERE user_id = ?').get(userId) as { n: number }).n
  }

  async claimOnce (key: string, expiresAt: number, now: number): Promise<boolean> {
    return this.#claim(key, expiresAt, now)
  }

  async putPending (key: string, value: string, expiresAt: number, _now: number): Promise<void> {
    this.#db.prepare('INSERT OR REPLACE INTO once_keys (key, value, expires_at) VALUES (?, ?, ?)').run(`pending:${key}`, value, expiresAt)
  }

  async getPending (key: string, now: number): Promise<string | undefined> {
    return this.#db.prepare<[string, number], { value: string }>('SELECT value FROM once_keys WHERE key = ? AND expires_at > ?').get(`pending:${key}`, now)?.value
  }

  async takePending (key: string, now: number): Promise<string | undefined> {
    // One statement: of two concurrent takes (two instances, one file), exactly one deletes the row.
    return this.#db.prepare<[string, number], { value: string }>('DELETE FROM once_keys WHERE key = ? AND expires_at > ? RETURNING value').get(`pending:${key}`, now)?.value
  }

  /** Enabled users other than `id` holding `role`. */
  #otherHolders (id: string, role: string): number {
    return (this.#db.prepare<[string, string], { n: number }>(`SELECT count(*) AS n FROM users
      WHERE id != ? AND disabled = 0 AND EXISTS (SELECT 1 FROM json_each(roles_json) WHERE value = ?)`).get(id, role) as { n: number }).n
  }
}
