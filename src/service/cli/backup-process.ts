/**
 * The backup CLI as a process: exit codes and messages, nothing else. Run by backup-main.ts
 * (`npm run backup -- ...`) and by the package's executable (`fastify-stateless-session backup ...`), each
 * passing the command line a person typed, so the usage names a command that works for them.
 */
import { sqliteModuleFailure } from '../startup-errors.js'
import { BackupUsageError, runBackupCli } from './backup.js'

export async function backupProcess (argv: string[], invokedAs: string): Promise<void> {
  try {
    process.exitCode = await runBackupCli(argv, {
      out: (line) => { process.stdout.write(line + '\n') },
      env: process.env,
      invokedAs
    })
  } catch (error) {
    const err = error as { message?: string }
    // A usage error: the problem, then the usage (its first line only marked `error:`), and exit 2 as the
    // package's executable does for an unknown command. Anything else: one line, exit 1.
    process.stderr.write(`error: ${sqliteModuleFailure(error, false) ?? err.message ?? String(error)}\n`)
    process.exitCode = error instanceof BackupUsageError ? 2 : 1
  }
}
