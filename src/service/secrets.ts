/**
 * The master secret of the standalone service: SESSION_SECRET (its strength is checked with the other plugin
 * options, src/http/plugin-options.ts), and the development fallback of a generated secret kept in DATA_DIR.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from '../common/errors.js'
import { FILE_ERROR_WORDS } from '../common/file-errors.js'
import { assessSecret } from '../tokens/secret-strength.js'

export interface SecretSource {
  /** SESSION_SECRET; empty when unset. */
  configured: string
  /** SESSION_PREVIOUS_SECRETS. */
  previous: readonly string[]
  production: boolean
  dataDir: string
}

export interface ResolvedSecret {
  secret: string
  previous: string[]
  /** Set when the secret was generated or read from DATA_DIR: worth a startup warning. */
  generatedAt?: string
}

/**
 * The configured secret; in production a missing one stops the boot. Outside production a missing secret is
 * generated once into DATA_DIR/session-secret (mode 0600) and reused, so a fresh clone runs with no set-up
 * and restarts keep sessions.
 */
export function resolveSecret (source: SecretSource): ResolvedSecret {
  const previous = source.previous.filter((s) => s !== '')
  if (source.configured !== '') {
    return { secret: source.configured, previous }
  }
  if (source.production) {
    throw new InvalidOptionError('SESSION_SECRET is required when NODE_ENV=production: set it to at least 32 random bytes, e.g. `openssl rand -base64 32`')
  }
  const file = join(source.dataDir, 'session-secret')
  let existing: string | undefined
  try {
    existing = readFileSync(file, 'utf8').trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw secretFileError(file, error)
  }
  if (existing !== undefined) {
    if (assessSecret(Buffer.from(existing)) !== undefined) {
      throw new InvalidOptionError(`${file} does not hold a usable secret: delete it to have a new one generated, or set SESSION_SECRET`)
    }
    return { secret: existing, previous, generatedAt: file }
  }
  mkdirSync(source.dataDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  // Written aside, then linked into place: the link either creates the whole file or fails because another
  // process (a second worker, WORKERS=n) got there first, and then every process uses that one's secret.
  const aside = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`
  writeFileSync(aside, secret + '\n', { mode: 0o600 })
  chmodSync(aside, 0o600)
  try {
    linkSync(aside, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    try {
      return { secret: readFileSync(file, 'utf8').trim(), previous, generatedAt: file }
    } catch (readError) {
      // The name is taken and cannot be read: a symbolic link to nothing, most likely (ENOENT).
      throw secretFileError(file, readError)
    }
  } finally {
    unlinkSync(aside)
  }
  return { secret, previous, generatedAt: file }
}

const SECRET_FILE_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'it is a symbolic link to a file that does not exist (a secrets volume not mounted?): mount it, or remove the link to have a new secret generated, which ends every session',
  ...FILE_ERROR_WORDS,
  EISDIR: 'it is a directory, not a file'
}

/**
 * Why DATA_DIR/session-secret cannot be read, as one line naming it (a setting's error: no stack trace at
 * start-up); anything that is not a file-system error is returned as it is. A secret is never generated in
 * place of one that cannot be read: the sessions signed with it would all end.
 */
function secretFileError (file: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code
  if (code === undefined) return error as Error
  return new InvalidOptionError(`${file} cannot be read: ${SECRET_FILE_REASONS[code] ?? code}; or set SESSION_SECRET`)
}
