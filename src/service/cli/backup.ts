/**
 * Backups of the standalone service's SQLite data (STORE=sqlite), with the same DATA_DIR as the service, run
 * as `fastify-stateless-session backup <args>` from the installed package or as `npm run backup -- <args>` in
 * a checkout of this repository:
 *
 *   backup create <file>     an online copy, taken while the service runs
 *   backup verify <file>     checks a backup and says what it holds
 *   backup restore <file>    puts a backup in place as DATA_DIR's database (service stopped, old
 *                           database moved aside first)
 *
 * docs/deployment.md ("Backups") gives the procedure. A backup holds users (password hashes), sessions and
 * revocations, never the session secret: keep SESSION_SECRET (or DATA_DIR/session-secret) apart.
 */
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { backupSqlite, inspectSqliteBackup, restoreSqlite, type BackupSummary } from '../../stores/sqlite-backup.js'
import { SQLITE_FILE } from '../open-stores.js'
import { BACKUP_INVOKED_AS } from './invocations.js'

export function backupUsage (invokedAs = BACKUP_INVOKED_AS): string {
  return `usage: ${invokedAs} <command> <file>
  create <file>    copy the running service's database (DATA_DIR/${SQLITE_FILE}) into a new file
  verify <file>    check a backup and show what it holds
  restore <file>   make a backup DATA_DIR's database (stop the service and move the old one aside first)`
}

export class BackupUsageError extends Error {
  override name = 'BackupUsageError'
}

export interface BackupCliIo {
  out: (line: string) => void
  env: Record<string, string | undefined>
  /** Unix seconds: what counts as live. */
  now?: () => number
  /** The command line that runs this CLI, for its usage: BACKUP_INVOKED_AS by default. */
  invokedAs?: string
}

function describe (summary: BackupSummary): string {
  return `${summary.users} users, ${summary.liveSessions} live sessions, ${summary.revocations} revocations in force (schema ${summary.schemaVersion})`
}

/** Runs one backup command; returns the exit code (errors are thrown). */
export async function runBackupCli (argv: string[], io: BackupCliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean' } } })
  const usageText = backupUsage(io.invokedAs)
  if (values.help === true) {
    io.out(usageText)
    return 0
  }
  const [command, file, ...extra] = positionals
  if (command === undefined || file === undefined || extra.length > 0 || !['create', 'verify', 'restore'].includes(command)) {
    throw new BackupUsageError(usageText)
  }
  const store = io.env['STORE'] ?? 'sqlite'
  if (command !== 'verify' && store !== 'sqlite') {
    throw new BackupUsageError(`STORE=${store}: this command backs up the SQLite store. Back up Redis with its own persistence (an AOF or RDB copy), see docs/deployment.md`)
  }
  const database = resolve(join(io.env['DATA_DIR'] ?? './data', SQLITE_FILE))
  const now = io.now?.() ?? Math.floor(Date.now() / 1000)
  switch (command) {
    case 'create':
      io.out(`backed up ${database} to ${file}: ${describe(backupSqlite(database, file, now))}`)
      break
    case 'verify':
      io.out(`${file} is a whole backup: ${describe(inspectSqliteBackup(file, now))}`)
      break
    default:
      io.out(`restored ${file} to ${database}: ${describe(restoreSqlite(file, database, now))}; start the service with the same SESSION_SECRET`)
  }
  return 0
}
