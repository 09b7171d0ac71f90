/**
 * Opens the embedded SQLite database (better-sqlite3) and brings its schema up to date.
 * WAL with synchronous=NORMAL: a committed transaction survives a crash of the process (kill -9 included);
 * only a power loss or OS crash can lose the last few, which `SQLITE_SYNCHRONOUS=FULL` would prevent at the
 * cost of an fsync per write (docs/deployment.md).
 */
import Database from 'better-sqlite3'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'

export type SqliteDatabase = Database.Database

/**
 * better-sqlite3's compiled part (build/Release/better_sqlite3.node) is missing: the package was installed
 * with --ignore-scripts, or its build failed. better-sqlite3 loads it at the first `new Database()` and its
 * `bindings` helper throws a message listing every path it tried (a dozen lines); this says the cause once,
 * under a code the service and the CLIs recognize (src/service/startup-errors.ts words the advice: this layer
 * does not know about STORE or npm scripts). The original error is the cause.
 */
export class SqliteNativeModuleError extends Error {
  override readonly name = 'SqliteNativeModuleError'
  readonly code = 'ERR_SQLITE_NATIVE_MODULE'
}

/**
 * `new Database(path, options)`, with a missing native module said as SqliteNativeModuleError. Every database
 * this package opens goes through here (the store, backups), so each entry point sees the same error.
 */
export function newDatabase (path: string, options?: Database.Options): SqliteDatabase {
  try {
    return new Database(path, options)
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('Could not locate the bindings file')) {
      throw new SqliteNativeModuleError('better-sqlite3\'s native module is not built', { cause: error })
    }
    throw error
  }
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE families (
     id TEXT PRIMARY KEY,
     subject TEXT NOT NULL,
     user_json TEXT NOT NULL,
     auth_time INTEGER NOT NULL,
     refresh_jti TEXT NOT NULL,
     previous_refresh_jti TEXT,
     access_jti TEXT NOT NULL,
     rotated_at INTEGER NOT NULL,
     refresh_expires_at INTEGER NOT NULL,
     access_expires_at INTEGER NOT NULL,
     generation INTEGER NOT NULL,
     user_agent TEXT,
     revoked_at INTEGER
   ) STRICT;
   CREATE INDEX families_by_subject ON families (subject);
   CREATE INDEX families_by_expiry ON families (refresh_expires_at);
   CREATE TABLE revocations (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL CHECK (kind IN ('token', 'family', 'subject')),
     id TEXT NOT NULL,
     not_before INTEGER,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX revocations_by_expiry ON revocations (expires_at);
   CREATE TABLE users (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL UNIQUE COLLATE NOCASE,
     password_hash TEXT NOT NULL,
     roles_json TEXT NOT NULL,
     disabled INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) STRICT;`,
  // A login's createFamily looks for a subject revocation of its user recorded after its mark.
  "CREATE INDEX revocations_of_subjects ON revocations (id, seq) WHERE kind = 'subject';",
  'ALTER TABLE families ADD COLUMN client_address TEXT;',
  // Second factors (src/users/user-store.ts, SecondFactorStore): the sealed TOTP secret, hashed recovery codes,
  // and single-use keys (TOTP steps used, pending logins) with their expiry.
  `CREATE TABLE second_factors (
     user_id TEXT PRIMARY KEY,
     sealed_secret TEXT NOT NULL,
     confirmed INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE recovery_codes (
     user_id TEXT NOT NULL,
     code_hash TEXT NOT NULL,
     PRIMARY KEY (user_id, code_hash)
   ) STRICT;
   CREATE TABLE once_keys (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX once_keys_by_expiry ON once_keys (expires_at);`
]

/** The schema version of an up-to-date database (PRAGMA user_version). */
export const MIGRATIONS_COUNT = MIGRATIONS.length

export interface OpenSqliteOptions {
  /** File path, or ':memory:'. */
  path: string
  synchronous?: 'NORMAL' | 'FULL'
}

export function openSqliteDatabase (options: OpenSqliteOptions): SqliteDatabase {
  if (options.path !== ':memory:') {
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 })
    // The database holds password hashes and session records: owner-only from the start (SQLite gives its
    // -wal and -shm files the same permissions). An empty file is a valid empty database.
    closeSync(openSync(options.path, 'a', 0o600))
  }
  const db = newDatabase(options.path)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`)
  // Another process (the users CLI, a second instance) may hold the write lock for a moment.
  db.pragma('busy_timeout = 5000')
  migrate(db)
  return db
}

function migrate (db: SqliteDatabase): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number
    for (let next = version; next < MIGRATIONS.length; next++) {
      db.exec(MIGRATIONS[next] as string)
    }
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  }).immediate()
}
