/** Process wrapper of the backup CLI: exit codes and messages, nothing else. */
import { runBackupCli } from './backup.js'

try {
  process.exitCode = await runBackupCli(process.argv.slice(2), {
    out: (line) => { process.stdout.write(line + '\n') },
    env: process.env
  })
} catch (error) {
  const err = error as { message?: string }
  process.stderr.write(`error: ${err.message ?? String(error)}\n`)
  process.exitCode = 1
}
