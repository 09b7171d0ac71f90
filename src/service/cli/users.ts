/**
 * The users CLI of the standalone service, against whichever store is configured (same environment and
 * .env as `npm start`):
 *
 *   npm run users -- add <name> [--role <role>]... --password-stdin
 *   npm run users -- passwd <name> --password-stdin      (ends all of the user's sessions)
 *   npm run users -- roles <name> [--role <role>]...
 *   npm run users -- disable <name>                      (ends all of the user's sessions)
 *   npm run users -- enable <name>
 *   npm run users -- list
 *   npm run users -- sessions list <name>                (the user's live sessions)
 *   npm run users -- sessions end <name> [--session <id>] (all of them, or one)
 *   npm run users -- mfa reset <name>                    (removes the second factor; ends all of the user's sessions)
 *
 * `sessions end` records the revocation in the store the running service uses: it enforces it within its
 * revocation delay (SQLite: the next poll, REVOCATION_POLL_INTERVAL of about a second; Redis: pushed, a few
 * milliseconds; docs/deployment.md gives the measured figures).
 *
 * Passwords are read from standard input, never from arguments (which other users can see in `ps`).
 */
import { parseArgs } from 'node:util'
import { buildApp } from '../app.js'
import { audit } from '../../http/audit.js'
import { loggerOptions } from '../logger.js'
import { SessionNotFoundError } from '../../common/errors.js'

function iso (epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString()
}

const USAGE = `usage: npm run users -- <command>
  add <name> [--role <role>]... --password-stdin
  passwd <name> --password-stdin
  roles <name> [--role <role>]...
  disable <name>
  enable <name>
  list
  sessions list <name>
  sessions end <name> [--session <id>]
  mfa reset <name>`

export class UsageError extends Error {
  override name = 'UsageError'
}

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
  /** Log lines (JSON): warnings and the audit event of the change. */
  log: { write: (line: string) => void }
  env: Record<string, string | undefined>
}

/** Runs one CLI command; returns the exit code. */
export async function runUsersCli (argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { role: { type: 'string', multiple: true }, 'password-stdin': { type: 'boolean' }, session: { type: 'string' }, help: { type: 'boolean' } }
  })
  // `sessions <list|end> <name>` and `mfa reset <name>`: the sub-command comes before the name.
  const sub = positionals[0] === 'sessions' || positionals[0] === 'mfa' ? positionals[1] : undefined
  const [command, name, ...extra] = sub === undefined ? positionals : [positionals[0], ...positionals.slice(2)]
  if (values.help === true) {
    io.out(USAGE)
    return 0
  }
  const needsName = command !== 'list'
  if (command === undefined || (needsName && name === undefined) || extra.length > 0 || (!needsName && name !== undefined)) {
    throw new UsageError(USAGE)
  }
  if (command === 'sessions' && sub !== 'list' && sub !== 'end') throw new UsageError(USAGE)
  if (command === 'mfa' && sub !== 'reset') throw new UsageError(USAGE)
  if (values.session !== undefined && !(command === 'sessions' && sub === 'end')) throw new UsageError(`--session goes with "sessions end"\n${USAGE}`)
  const needsPassword = command === 'add' || command === 'passwd'
  if (needsPassword && values['password-stdin'] !== true) {
    throw new UsageError(`${command} reads the password from standard input: add --password-stdin, e.g.\n  printf '%s' "$PASSWORD" | npm run users -- ${command} ${name ?? '<name>'} --password-stdin`)
  }
  const password = needsPassword ? await readStdin(io.stdin) : ''

  const app = await buildApp({ env: io.env, dotenv: true, logger: { ...loggerOptions(io.env['LOG_LEVEL'] ?? 'info'), stream: io.log } })
  try {
    await app.ready()
    const users = app.users
    const username = name as string
    switch (command) {
      case 'add': {
        const user = await users.add(username, password, values.role ?? [])
        audit(app.log, 'user.added', { userId: user.id, username: user.username, roles: user.roles })
        io.out(`added ${user.username} (id ${user.id}${user.roles.length > 0 ? `, roles ${user.roles.join(', ')}` : ''})`)
        break
      }
      case 'passwd': {
        const user = await users.setPasswordOf(username, password)
        audit(app.log, 'user.password_changed', { userId: user.id })
        io.out(`password of ${user.username} changed; all of their sessions have ended`)
        break
      }
      case 'roles': {
        const user = await users.setRolesOf(username, values.role ?? [])
        audit(app.log, 'user.roles_changed', { userId: user.id, roles: user.roles })
        io.out(`roles of ${user.username}: ${user.roles.join(', ') || '(none)'} (applied at each session's next refresh)`)
        break
      }
      case 'disable':
      case 'enable': {
        const user = await users.setDisabledOf(username, command === 'disable')
        audit(app.log, command === 'disable' ? 'user.disabled' : 'user.enabled', { userId: user.id })
        io.out(command === 'disable' ? `disabled ${user.username}; all of their sessions have ended` : `enabled ${user.username}`)
        break
      }
      case 'sessions': {
        const user = await users.get(username)
        if (sub === 'list') {
          const sessions = await app.sessions.listUserSessions(user.id)
          audit(app.log, 'cli.sessions_listed', { userId: user.id })
          if (sessions.length === 0) io.out(`no live sessions of ${user.username}`)
          for (const s of sessions) {
            io.out([s.id, `login ${iso(s.createdAt)}`, `seen ${iso(s.lastRefreshedAt)}`, s.clientAddress ?? '-', s.userAgent ?? '-'].join('\t'))
          }
        } else if (values.session !== undefined) {
          if (!await app.sessions.endUserSession(user.id, values.session)) throw new SessionNotFoundError()
          audit(app.log, 'cli.sessions_ended', { userId: user.id, familyId: values.session })
          io.out(`ended session ${values.session} of ${user.username}`)
        } else {
          const ended = await app.sessions.endUserSessions(user.id)
          audit(app.log, 'cli.sessions_ended', { userId: user.id, sessionsEnded: ended })
          io.out(`ended every session of ${user.username} (${ended} live)`)
        }
        break
      }
      case 'mfa': {
        const user = await users.get(username)
        const removed = await users.resetSecondFactorOf(username)
        audit(app.log, 'cli.mfa_reset', { userId: user.id, removed })
        io.out(removed
          ? `second factor of ${user.username} removed (recovery codes included); all of their sessions have ended`
          : `${user.username} had no second factor; all of their sessions have ended`)
        break
      }
      case 'list': {
        const all = await users.list()
        if (all.length === 0) io.out('no users')
        for (const user of all) {
          io.out(`${user.username}\t${user.id}\t${user.disabled ? 'disabled' : 'enabled'}\t${user.roles.join(',')}`)
        }
        break
      }
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`)
    }
    return 0
  } finally {
    await app.close()
  }
}
