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

/**
 * The command refused as given (unknown, missing or extra arguments, an unknown option), before anything is
 * opened: backup-process.ts exits 2 for it, as the package's executable does for an unknown command, and 1
 * when a command fails.
 */
export class BackupUsageError extends Error {
  override name = 'BackupUsageError'
}

const COMMANDS = ['create', 'verify', 'restore']

function plural (count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
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
  return `${plural(summary.users, 'user')}, ${plural(summary.liveSessions, 'live session')}, ${plural(summary.revocations, 'revocation')} in force (schema ${summary.schemaVersion})`
}

/** Runs one backup command; returns the exit code (errors are thrown). */
export async function runBackupCli (argv: string[], io: BackupCliIo): Promise<number> {
  const usageText = backupUsage(io.invokedAs)
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean' } } })
  } catch (error) {
    // parseArgs' own text suggests `--` for a file named like an option: said shorter, then the usage.
    const option = /'(-{1,2}[^'\s]+)/.exec((error as Error).message)?.[1] ?? 'an option'
    const problem = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `unknown option ${option}` : (error as Error).message
    throw new BackupUsageError(`${problem}\n${usageText}`)
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    io.out(usageText)
    return 0
  }
  const [command, file, ...extra] = positionals
  if (command === undefined) throw new BackupUsageError(usageText)
  if (!COMMANDS.includes(command)) throw new BackupUsageError(`unknown command "${command}"\n${usageText}`)
  if (file === undefined) throw new BackupUsageError(`${command} needs a file\n${usageText}`)
  if (extra.length > 0) throw new BackupUsageError(`${command} takes one file, got also: ${extra.join(' ')}\n${usageText}`)
  const store = io.env['STORE'] ?? 'sqlite'
  if (command !== 'verify' && store !== 'sqlite') {
    // Not the command line's fault but the environment's, as a wrong setting is: exit 1.
    throw new Error(`STORE=${store}: this command backs up the SQLite store. Back up Redis with its own persistence (an AOF or RDB copy), see docs/deployment.md`)
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
