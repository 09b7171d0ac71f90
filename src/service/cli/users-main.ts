/** Process wrapper of the users CLI: exit codes and messages, nothing else. */
import { runUsersCli } from './users.js'

try {
  process.exitCode = await runUsersCli(process.argv.slice(2), {
    stdin: process.stdin,
    out: (line) => { process.stdout.write(line + '\n') },
    log: process.stderr,
    env: process.env
  })
} catch (error) {
  const err = error as { message?: string }
  process.stderr.write(`error: ${err.message ?? String(error)}\n`)
  process.exitCode = 1
}
