/**
 * The backup CLI as a process: exit codes and messages, nothing else. Run by backup-main.ts
 * (`npm run backup -- ...`) and by the package's executable (`fastify-stateless-session backup ...`), each
 * passing the command line a person typed, so the usage names a command that works for them.
 */
import { runBackupCli } from './backup.js'

export async function backupProcess (argv: string[], invokedAs: string): Promise<void> {
  try {
    process.exitCode = await runBackupCli(argv, {
      out: (line) => { process.stdout.write(line + '\n') },
      env: process.env,
      invokedAs
    })
  } catch (error) {
    const err = error as { message?: string }
    process.stderr.write(`error: ${err.message ?? String(error)}\n`)
    process.exitCode = 1
  }
}
