/**
 * The master secret of the standalone service: SESSION_SECRET (its strength is checked with the other plugin
 * options, src/http/plugin-options.ts), and the development fallback of a generated secret kept in DATA_DIR.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from '../common/errors.js'
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
  try {
    const existing = readFileSync(file, 'utf8').trim()
    if (assessSecret(Buffer.from(existing)) !== undefined) {
      throw new InvalidOptionError(`${file} does not hold a usable secret: delete it to have a new one generated, or set SESSION_SECRET`)
    }
    return { secret: existing, previous, generatedAt: file }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  mkdirSync(source.dataDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  writeFileSync(file, secret + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
  return { secret, previous, generatedAt: file }
}
