/**
 * The refusals of the SQLite backup and restore (src/stores/sqlite-backup.ts) on real files: what is not a
 * database, a database damaged inside, a database of another schema version (none yet, or a newer release's),
 * a backup whose copy fails its check, and a restore that cannot write its file. Each leaves nothing behind.
 * test/service/backup-cli.test.ts covers the backup and restore that succeed, under load.
 */
import Database from 'better-sqlite3'
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { backupSqlite, BackupError, inspectSqliteBackup, restoreSqlite } from '../../src/stores/sqlite-backup.js'
import { MIGRATIONS_COUNT, openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { tempDir } from '../helper.js'

const NOW = 1_800_000_000

/** A session database of this version with `sessions` live families (expiring at NOW + 3600) and one stale. */
function sessionDatabase (path: string, sessions: number): void {
  const db = openSqliteDatabase({ path })
  const insert = db.prepare(`INSERT INTO families (id, subject, user_json, auth_time, refresh_jti, access_jti, rotated_at, refresh_expires_at, access_expires_at, generation)
    VALUES (?, 'user-1', '{}', ?, ?, ?, ?, ?, ?, 0)`)
  for (let i = 0; i <= sessions; i++) {
    const expires = i < sessions ? NOW + 3600 : NOW - 1
    insert.run(`family-${i}`, NOW - 60, `refresh-${i}`, `access-${i}`, NOW - 60, expires, expires)
  }
  db.close()
}

/** A plain SQLite database with user_version set: no session tables, or a release's this one does not know. */
function sqliteWithVersion (path: string, version: number): void {
  const db = new Database(path)
  db.exec('CREATE TABLE notes (body TEXT)')
  db.pragma(`user_version = ${version}`)
  db.close()
}

/** The BackupError `fn` throws (fails the test when it throws anything else or nothing). */
function backupError (t: Test, fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    t.type(error, BackupError, String(error))
    return (error as Error).message
  }
  t.fail('no error')
  return ''
}

test('a session database is described as of `now`', async (t) => {
  const path = join(tempDir(t), 'sessions.db')
  sessionDatabase(path, 2)
  t.same(inspectSqliteBackup(path, NOW), { schemaVersion: MIGRATIONS_COUNT, users: 0, liveSessions: 2, revocations: 0 })
  t.equal(inspectSqliteBackup(path, NOW + 3600).liveSessions, 0, 'an hour later they have expired')
})

test('a directory is not an SQLite database', async (t) => {
  const dir = tempDir(t)
  t.match(backupError(t, () => inspectSqliteBackup(dir, NOW)), new RegExp(`^${dir} is not an SQLite database: `))
})

test('a text file is not a session database', async (t) => {
  const file = join(tempDir(t), 'notes.txt')
  writeFileSync(file, 'SQLite format 2? no: just text long enough to fill what a header would need to hold.\n'.repeat(10))
  t.match(backupError(t, () => inspectSqliteBackup(file, NOW)), new RegExp(`^${file} is not a session database: file is not a database$`))
})

test('a database damaged inside (an index that no longer matches its table) fails the integrity check', async (t) => {
  const path = join(tempDir(t), 'sessions.db')
  sessionDatabase(path, 3)
  // The index's definition no longer matches what it holds, as after a page written half-way.
  const db = new Database(path)
  db.unsafeMode(true)
  db.pragma('writable_schema = ON')
  db.prepare("UPDATE sqlite_master SET sql = 'CREATE INDEX families_by_expiry ON families (auth_time)' WHERE name = 'families_by_expiry'").run()
  db.close()
  t.match(backupError(t, () => inspectSqliteBackup(path, NOW)), new RegExp(`^${path} is damaged: .*families_by_expiry`))
})

test('a database of no schema version, or of a newer release, is refused as not of this version', async (t) => {
  const dir = tempDir(t)
  for (const version of [0, MIGRATIONS_COUNT + 1]) {
    const path = join(dir, `v${version}.db`)
    sqliteWithVersion(path, version)
    t.equal(backupError(t, () => inspectSqliteBackup(path, NOW)), `${path} is not a session database of this version (schema ${version}, this version knows 1 to ${MIGRATIONS_COUNT})`)
    const target = join(dir, `restored-${version}`, 'sessions.db')
    t.match(backupError(t, () => restoreSqlite(path, target, NOW)), 'is not a session database of this version', 'never restored')
    t.notOk(existsSync(join(dir, `restored-${version}`)), 'nothing created')
  }
})

test('a backup whose copy fails its check is removed, and no file is left beside the destination', async (t) => {
  const source = join(tempDir(t), 'sessions.db')
  sqliteWithVersion(source, 0)
  const out = tempDir(t)
  const destination = join(out, 'backup.db')
  t.match(backupError(t, () => backupSqlite(source, destination, NOW)), /is not a session database of this version \(schema 0,/)
  t.same(readdirSync(out), [], 'neither the backup nor its partial copy')
})

test('a restore is refused while the database, or a -wal or -shm file of an earlier one, is there', async (t) => {
  const backup = join(tempDir(t), 'backup.db')
  sessionDatabase(backup, 1)
  for (const leftover of ['sessions.db', 'sessions.db-wal', 'sessions.db-shm']) {
    const dir = tempDir(t)
    writeFileSync(join(dir, leftover), '')
    t.match(backupError(t, () => restoreSqlite(backup, join(dir, 'sessions.db'), NOW)), `${join(dir, leftover)} exists: stop the service and move the current database (with its -wal and -shm files) aside`, leftover)
    t.same(readdirSync(dir), [leftover], 'nothing written')
  }
})

test('a restore into a directory it cannot write gives the file-system error and leaves nothing', async (t) => {
  const backup = join(tempDir(t), 'backup.db')
  sessionDatabase(backup, 1)
  // Root writes through directory modes, not into sysfs.
  let dir = '/sys/kernel'
  if (process.getuid?.() !== 0) {
    dir = join(tempDir(t), 'read-only')
    mkdirSync(dir, { mode: 0o500 })
    t.teardown(() => { chmodSync(dir, 0o700) })
  }
  const before = readdirSync(dir)
  t.throws(() => restoreSqlite(backup, join(dir, 'sessions.db'), NOW), { code: 'EACCES' })
  t.same(readdirSync(dir), before)
})

test('a restored database is up to date and holds the backup\'s data', async (t) => {
  const backup = join(tempDir(t), 'backup.db')
  sessionDatabase(backup, 2)
  const target = join(tempDir(t), 'nested', 'sessions.db')
  t.same(restoreSqlite(backup, target, NOW), { schemaVersion: MIGRATIONS_COUNT, users: 0, liveSessions: 2, revocations: 0 })
  t.same(inspectSqliteBackup(target, NOW), { schemaVersion: MIGRATIONS_COUNT, users: 0, liveSessions: 2, revocations: 0 })
})
