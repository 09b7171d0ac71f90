/**
 * The users CLI of the standalone service, against whichever store is configured (same environment and
 * .env as the service), run as `fastify-stateless-session users <args>` from the installed package or as
 * `npm run users -- <args>` in a checkout of this repository:
 *
 *   users add <name> [--role <role>]... [--password-stdin]
 *   users passwd <name> [--password-stdin]      (ends all of the user's sessions)
 *   users roles <name> [--role <role>]...
 *   users disable <name>                        (ends all of the user's sessions)
 *   users enable <name>
 *   users delete <name>                         (ends all of the user's sessions)
 *   users list
 *   users sessions list <name>                  (the user's live sessions)
 *   users sessions end <name> [--session <id>]  (all of them, or one)
 *   users mfa reset <name>                      (removes the second factor; ends all of the user's sessions)
 *
 * It opens only the user store and the session store, never the HTTP app: no keys, no revocation list to load
 * (docs/benchmarks.md, "The users CLI"). What it records reaches a running service through its revocation
 * feed (SQLite: the next `PRAGMA data_version` check, every 10 ms; Redis: pushed, a few milliseconds; docs/deployment.md gives the measured figures).
 *
 * Passwords are never taken from arguments (other users can see them in `ps`): typed at a prompt without
 * echo when standard input is a terminal, else read from standard input with --password-stdin.
 */
import { parseArgs } from 'node:util'
import pino from 'pino'
import { systemClock } from '../../common/clock.js'
import { SessionNotFoundError } from '../../common/errors.js'
import { audit } from '../../http/audit.js'
import { StoredSessions } from '../../session/stored-sessions.js'
import { OWASP_ARGON2ID, PasswordHasher, type PasswordHashCost } from '../../users/password-hasher.js'
import { UserDirectory } from '../../users/user-directory.js'
import { loadConfig } from '../config.js'
import { loggerOptions } from '../logger.js'
import { openStores } from '../open-stores.js'
import { USERS_INVOKED_AS } from './invocations.js'

function iso (epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString()
}

function usage (invokedAs: string): string {
  return `usage: ${invokedAs} <command>
  add <name> [--role <role>]... [--password-stdin]
  passwd <name> [--password-stdin]
  roles <name> [--role <role>]...
  disable <name>
  enable <name>
  delete <name>
  list
  sessions list <name>
  sessions end <name> [--session <id>]
  mfa reset <name>
On a terminal, add and passwd prompt for the password; elsewhere pipe it in with --password-stdin.`
}

/**
 * The command refused as given (unknown, missing or extra arguments, a wrong option, no way to read the
 * password, two typed passwords that differ), before anything is opened or changed: users-process.ts exits 2
 * for it, as the package's executable does for an unknown command, and 1 when a command fails.
 */
export class UsageError extends Error {
  override name = 'UsageError'
}

const KNOWN_COMMANDS = ['add', 'passwd', 'roles', 'disable', 'enable', 'delete', 'list', 'sessions', 'mfa']

async function readStdin (stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += String(chunk)
  // One trailing newline is what `echo` or a terminal adds, not part of the password.
  return text.replace(/\r?\n$/, '')
}

export interface CliIo {
  stdin: NodeJS.ReadableStream
  /** Human-readable results. */
  out: (line: string) => void
  /**
   * Where the audit log lines (JSON) of the changes go; none when undefined. users-main.ts sends them to
   * stderr when it is not a terminal (a script, a supervisor), and keeps a terminal for people.
   */
  log?: { write: (line: string) => void } | undefined
  /** Warnings for people (a Redis without persistence, say). */
  warn?: (line: string) => void
  env: Record<string, string | undefined>
  /** Asks for a password without echo; given when standard input is a terminal. */
  promptPassword?: ((question: string) => Promise<string>) | undefined
  /** argon2id cost; OWASP's by default. Tests lower it. */
  passwordHashCost?: PasswordHashCost
  /** The command line that runs this CLI, for usage and hints: USERS_INVOKED_AS by default. */
  invokedAs?: string
}

const OPTIONS = {
  role: { type: 'string', multiple: true },
  'password-stdin': { type: 'boolean' },
  session: { type: 'string' },
  help: { type: 'boolean' }
} as const

/**
 * `--session <id>` with the argument after it as the value, whatever it looks like: a session id is base64url
 * and one in 64 begins with '-', which parseArgs would take for another option and refuse the value.
 */
function withSessionValues (argv: string[]): string[] {
  const joined: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    joined.push(arg === '--session' && i + 1 < argv.length ? `--session=${argv[++i] as string}` : arg)
  }
  return joined
}

/** parseArgs' errors, said for people: which argument, and what to do instead. */
function parseArguments (argv: string[], usageText: string): ReturnType<typeof parseArgs<{ args: string[], allowPositionals: true, options: typeof OPTIONS }>> {
  try {
    return parseArgs({ args: withSessionValues(argv), allowPositionals: true, options: OPTIONS })
  } catch (error) {
    const code = (error as { code?: string }).code
    const option = /'(-{1,2}[^'\s]+)/.exec((error as Error).message)?.[1] ?? 'an option'
    if (/^--?password(=|$)/.test(option) || option.startsWith('--password=')) {
      throw new UsageError('passwords are never taken as arguments (other users can see them in `ps`): run the command on a terminal to be prompted, or pipe the password in with --password-stdin')
    }
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${option}\n${usageText}`)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${option.split('=')[0] ?? option} needs a value (e.g. --role admin, --session <id>)\n${usageText}`)
    throw new UsageError(usageText)
  }
}

async function readPassword (command: string, name: string, usesStdin: boolean, io: CliIo, invokedAs: string): Promise<string> {
  if (usesStdin) return await readStdin(io.stdin)
  if (io.promptPassword === undefined) {
    throw new UsageError(`${command} needs the password: run it on a terminal to be prompted, or pipe it in with --password-stdin, e.g.\n  printf '%s' "$PASSWORD" | ${invokedAs} ${command} ${name} --password-stdin`)
  }
  const password = await io.promptPassword(`New password for ${name}: `)
  if (await io.promptPassword('Again: ') !== password) throw new UsageError('the two passwords differ; nothing changed')
  return password
}

/** Runs one CLI command; returns the exit code. */
export async function runUsersCli (argv: string[], io: CliIo): Promise<number> {
  const invokedAs = io.invokedAs ?? USERS_INVOKED_AS
  const usageText = usage(invokedAs)
  const { values, positionals } = parseArguments(argv, usageText)
  // `sessions <list|end> <name>` and `mfa reset <name>`: the sub-command comes before the name.
  const sub = positionals[0] === 'sessions' || positionals[0] === 'mfa' ? positionals[1] : undefined
  const [command, name, ...extra] = sub === undefined ? positionals : [positionals[0], ...positionals.slice(2)]
  if (values.help === true) {
    io.out(usageText)
    return 0
  }
  if (command === undefined) throw new UsageError(usageText)
  // Before the argument counts: `users bogus` is an unknown command, not a missing name.
  if (!KNOWN_COMMANDS.includes(command)) throw new UsageError(`unknown command "${command}"\n${usageText}`)
  if (command === 'sessions' && sub !== undefined && sub !== 'list' && sub !== 'end') throw new UsageError(`unknown command "sessions ${sub}"\n${usageText}`)
  if (command === 'mfa' && sub !== undefined && sub !== 'reset') throw new UsageError(`unknown command "mfa ${sub}"\n${usageText}`)
  const needsName = command !== 'list'
  if ((needsName && name === undefined) || extra.length > 0 || (!needsName && name !== undefined)) {
    throw new UsageError(usageText)
  }
  if (values.session !== undefined && !(command === 'sessions' && sub === 'end')) throw new UsageError(`--session goes with "sessions end"\n${usageText}`)
  const needsPassword = command === 'add' || command === 'passwd'
  if (values['password-stdin'] === true && !needsPassword) throw new UsageError(`--password-stdin goes with add and passwd\n${usageText}`)
  const username = name as string
  const password = needsPassword ? await readPassword(command, username, values['password-stdin'] === true, io, invokedAs) : ''

  const config = loadConfig({ env: io.env, dotenv: true })
  const log = io.log === undefined ? pino({ level: 'silent' }) : pino(loggerOptions(config.LOG_LEVEL), io.log)
  const stores = await openStores(config)
  try {
    for (const warning of stores.warnings) io.warn?.(`warning: ${warning}`)
    const sessions = new StoredSessions({
      store: stores.sessions,
      clock: systemClock,
      lifetimes: { accessTtl: config.ACCESS_TTL_SECONDS, refreshIdleTtl: config.REFRESH_IDLE_TTL_SECONDS }
    })
    const users = new UserDirectory({
      users: stores.users,
      hasher: new PasswordHasher(io.passwordHashCost ?? OWASP_ARGON2ID),
      clock: systemClock,
      endSessions: async (userId) => { await sessions.endAll(userId) }
    })
    switch (command) {
      case 'add': {
        const user = await users.add(username, password, values.role ?? [])
        audit(log, 'user.added', { userId: user.id, username: user.username, roles: user.roles })
        io.out(`added ${user.username} (id ${user.id}${user.roles.length > 0 ? `, roles ${user.roles.join(', ')}` : ''})`)
        break
      }
      case 'passwd': {
        const user = await users.setPasswordOf(username, password)
        audit(log, 'user.password_changed', { userId: user.id })
        io.out(`password of ${user.username} changed; all of their sessions have ended`)
        break
      }
      case 'roles': {
        const user = await users.setRolesOf(username, values.role ?? [])
        audit(log, 'user.roles_changed', { userId: user.id, roles: user.roles })
        io.out(`roles of ${user.username}: ${user.roles.join(', ') || '(none)'} (applied at each session's next refresh)`)
        break
      }
      case 'disable':
      case 'enable': {
        const user = await users.setDisabledOf(username, command === 'disable')
        audit(log, command === 'disable' ? 'user.disabled' : 'user.enabled', { userId: user.id })
        io.out(command === 'disable' ? `disabled ${user.username}; all of their sessions have ended` : `enabled ${user.username}`)
        break
      }
      case 'delete': {
        const user = await users.deleteByName(username)
        audit(log, 'user.deleted', { userId: user.id, username: user.username })
        io.out(`deleted ${user.username}; all of their sessions have ended`)
        break
      }
      case 'sessions': {
        const user = await users.get(username)
        if (sub === 'list') {
          const live = await sessions.list(user.id)
          audit(log, 'cli.sessions_listed', { userId: user.id })
          if (live.length === 0) io.out(`no live sessions of ${user.username}`)
          for (const s of live) {
            io.out([s.id, `login ${iso(s.createdAt)}`, `seen ${iso(s.lastRefreshedAt)}`, s.clientAddress ?? '-', s.userAgent ?? '-'].join('\t'))
          }
        } else if (values.session !== undefined) {
          if (!await sessions.end(user.id, values.session)) throw new SessionNotFoundError()
          audit(log, 'cli.sessions_ended', { userId: user.id, familyId: values.session })
          io.out(`ended session ${values.session} of ${user.username}`)
        } else {
          const ended = await sessions.endAll(user.id)
          audit(log, 'cli.sessions_ended', { userId: user.id, sessionsEnded: ended })
          io.out(`ended every session of ${user.username} (${ended} live)`)
        }
        break
      }
      case 'mfa': {
        const user = await users.get(username)
        const removed = await users.resetSecondFactorOf(username)
        audit(log, 'cli.mfa_reset', { userId: user.id, removed })
        io.out(removed
          ? `second factor of ${user.username} removed (recovery codes included); all of their sessions have ended`
          : `${user.username} had no second factor; all of their sessions have ended`)
        break
      }
      default: {
        const all = await users.list()
        if (all.length === 0) io.out('no users')
        for (const user of all) {
          io.out(`${user.username}\t${user.id}\t${user.disabled ? 'disabled' : 'enabled'}\t${user.roles.join(',')}`)
        }
      }
    }
    return 0
  } finally {
    await stores.close()
  }
}
