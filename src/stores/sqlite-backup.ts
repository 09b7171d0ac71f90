/**
 * Online backup and restore of the SQLite data (users, session families, revocations).
 *
 * A backup is `VACUUM INTO` from a read-only connection: one read transaction, so the copy is the database as
 * it was at one instant, while the service goes on writing (WAL: readers never block the writer). The copy is
 * written beside its destination, checked (`PRAGMA integrity_check`), then renamed into place: a backup file
 * that exists is complete. It holds password hashes: created owner-only (0600).
 *
 * A restore copies a checked backup into a data directory that has no database yet (the service stopped, the
 * old file moved aside), the same way: beside it, then renamed.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { MIGRATIONS_COUNT, newDatabase, openSqliteDatabase, SqliteNativeModuleError, type SqliteDatabase } from './sqlite-database.js'

export interface BackupSummary {
  /** Schema version (PRAGMA user_version). */
  schemaVersion: number
  users: number
  /** Families not revoked whose refresh token has not expired at `now`. */
  liveSessions: number
  /** Revocations still in force at `now`. */
  revocations: number
}

/** Thrown for a file that is not a usable backup, or a destination that would be overwritten. */
export class BackupError extends Error {
  override readonly name = 'BackupError'
}

function temporaryBeside (path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`)
}

function fsyncFile (path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Checks that `path` is a whole, readable session database and says what it holds. */
export function inspectSqliteBackup (path: string, now: number): BackupSummary {
  if (!existsSync(path)) throw new BackupError(`${path} does not exist`)
  let db: SqliteDatabase
  try {
    db = newDatabase(path, { readonly: true, fileMustExist: true })
  } catch (cause) {
    // Not the file's fault: nothing could open any database.
    if (cause instanceof SqliteNativeModuleError) throw cause
    throw new BackupError(`${path} is not an SQLite database: ${(cause as Error).message}`, { cause })
  }
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string
    if (integrity !== 'ok') throw new BackupError(`${path} is damaged: ${integrity}`)
    const schemaVersion = db.pragma('user_version', { simple: true }) as number
    if (schemaVersion < 1 || schemaVersion > MIGRATIONS_COUNT) {
      throw new BackupError(`${path} is not a session database of this version (schema ${schemaVersion}, this version knows 1 to ${MIGRATIONS_COUNT})`)
    }
    const count = (sql: string, ...params: number[]): number => (db.prepare(sql).get(...params) as { n: number }).n
    return {
      schemaVersion,
      users: count('SELECT count(*) AS n FROM users'),
      liveSessions: count('SELECT count(*) AS n FROM families WHERE revoked_at IS NULL AND refresh_expires_at > ?', now),
      revocations: count('SELECT count(*) AS n FROM revocations WHERE expires_at > ?', now)
    }
  } catch (error) {
    if (error instanceof BackupError) throw error
    throw new BackupError(`${path} is not a session database: ${(error as Error).message}`, { cause: error })
  } finally {
    db.close()
  }
}

/**
 * Copies the database at `source` into a new file `destination` while the service runs; refuses to overwrite.
 * Returns what the copy holds.
 */
export function backupSqlite (source: string, destination: string, now: number): BackupSummary {
  if (!existsSync(source)) throw new BackupError(`no database at ${source}: is DATA_DIR right?`)
  if (existsSync(destination)) throw new BackupError(`${destination} exists already: choose a new file name`)
  mkdirSync(dirname(destination), { recursive: true, mode: 0o700 })
  const partial = temporaryBeside(destination)
  const db = newDatabase(source, { readonly: true, fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    db.prepare('VACUUM INTO ?').run(partial)
  } finally {
    db.close()
  }
  try {
    chmodSync(partial, 0o600)
    const summary = inspectSqliteBackup(partial, now)
    fsyncFile(partial)
    renameSync(partial, destination)
    return summary
  } catch (error) {
    rmSync(partial, { force: true })
    throw error
  }
}

/**
 * Puts the backup `backup` in place as the database `target`, which must not exist (nor its -wal and -shm
 * files): stop the service and move the old database aside first. Returns what was restored.
 */
export function restoreSqlite (backup: string, target: string, now: number): BackupSummary {
  const summary = inspectSqliteBackup(backup, now)
  for (const path of [target, `${target}-wal`, `${target}-shm`]) {
    if (existsSync(path)) throw new BackupError(`${path} exists: stop the service and move the current database (with its -wal and -shm files) aside before restoring`)
  }
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 })
  const partial = temporaryBeside(target)
  try {
    copyFileSync(backup, partial)
    chmodSync(partial, 0o600)
    fsyncFile(partial)
    renameSync(partial, target)
  } catch (error) {
    rmSync(partial, { force: true })
    throw error
  }
  // Brings an older backup's schema up to date, as the service would at start.
  openSqliteDatabase({ path: target }).close()
  return summary
}
