/**
 * The master secret of the standalone service: strength checks (tokens/secret-strength.ts), and the development fallback of a generated secret kept in DATA_DIR.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from '../common/errors.js'
import { assessSecret, MIN_SECRET_BYTES } from '../tokens/secret-strength.js'

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

function checkSecret (name: string, secret: string, production: boolean): void {
  const problem = assessSecret(Buffer.from(secret))
  if (problem === 'short') {
    throw new InvalidOptionError(`${name} is too short: at least ${MIN_SECRET_BYTES} bytes of random data are required; generate one with \`openssl rand -base64 32\``)
  }
  // Outside production a weak secret is only warned about, by the session plugin.
  if (problem === 'weak' && production) {
    throw new InvalidOptionError(`${name} looks weak (a placeholder, or too little variety to be random); generate one with \`openssl rand -base64 32\``)
  }
}

/**
 * The configured secret; in production a missing one stops the boot. Outside production a missing secret is
 * generated once into DATA_DIR/session-secret (mode 0600) and reused, so a fresh clone runs with no set-up
 * and restarts keep sessions.
 */
export function resolveSecret (source: SecretSource): ResolvedSecret {
  const previous = source.previous.filter((s) => s !== '')
  for (const secret of previous) checkSecret('SESSION_PREVIOUS_SECRETS', secret, source.production)
  if (source.configured !== '') {
    checkSecret('SESSION_SECRET', source.configured, source.production)
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
