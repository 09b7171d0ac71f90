/**
 * The users CLI as a process: the terminal, exit codes and messages, nothing else. Run by users-main.ts
 * (`npm run users -- ...`) and by the package's executable (`fastify-stateless-session users ...`), each
 * passing the command line a person typed, so usage and hints name a command that works for them.
 */
import { sqliteModuleFailure } from '../startup-errors.js'
import { promptHidden } from './prompt.js'
import { runUsersCli, UsageError } from './users.js'

export async function usersProcess (argv: string[], invokedAs: string): Promise<void> {
  try {
    process.exitCode = await runUsersCli(argv, {
      stdin: process.stdin,
      out: (line) => { process.stdout.write(line + '\n') },
      // Audit lines (JSON) for whatever collects stderr; a person at a terminal reads the results only.
      log: process.stderr.isTTY ? undefined : process.stderr,
      warn: (line) => { process.stderr.write(line + '\n') },
      env: process.env,
      promptPassword: process.stdin.isTTY ? async (question) => await promptHidden(question, process.stdin, process.stderr) : undefined,
      invokedAs
    })
  } catch (error) {
    const lines = (sqliteModuleFailure(error, true) ?? (error as { message?: string }).message ?? String(error)).split('\n')
    // A usage error: the problem, then the usage, and exit 2 as the package's executable does for an unknown
    // command. Anything else: one line per problem (a wrong setting may make several), no stack trace, exit 1.
    const text = error instanceof UsageError ? [`error: ${lines[0] ?? ''}`, ...lines.slice(1)] : lines.map((line) => `error: ${line}`)
    process.stderr.write(text.join('\n') + '\n')
    process.exitCode = error instanceof UsageError ? 2 : 1
  }
}
