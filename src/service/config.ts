/**
 * Reads the standalone service's configuration: the environment (and a `.env` file) checked against the env
 * schema (env-schema.ts). A wrong value gives one line per variable, "VAR must be <what is allowed> (got
 * ...)", never a validator dump: server.ts and the users CLI print those lines and exit 1.
 */
import { envSchema as readEnv } from 'env-schema'
import type { TSchema } from 'typebox'
import { InvalidOptionError } from '../common/errors.js'
import { expectation } from '../http/plugin-options.js'
import { ENV_OPTIONS, envSchema, type EnvConfig } from './env-schema.js'

export interface LoadConfigOptions {
  /** Environment variables (process.env in server.ts; plain data in tests). */
  env?: Record<string, string | undefined>
  /** Also read `.env` from the working directory (values in `env` win). */
  dotenv?: boolean
}

/** Variables whose value is never repeated in a message: it may be, or hold, a secret. */
const SENSITIVE = /SECRET|PASSWORD|REDIS_URL/

interface AjvError { instancePath: string, keyword: string, params: Record<string, unknown> }

/** One line per wrong variable, saying what it must be. */
function describeErrors (errors: readonly AjvError[], env: Record<string, string | undefined>): string[] {
  const properties = envSchema.properties as Record<string, TSchema>
  const lines = new Map<string, string>()
  for (const error of errors) {
    const name = error.instancePath.split('/')[1] ?? String(error.params['additionalProperty'] ?? '')
    if (lines.has(name)) continue
    const schema = properties[name]
    const raw = env[name]
    const got = raw === undefined ? ' (set in .env)' : SENSITIVE.test(name) ? '' : ` (got ${JSON.stringify(raw.length > 60 ? raw.slice(0, 60) + '…' : raw)})`
    lines.set(name, `${name} must be ${schema === undefined ? 'valid' : expectation(schema, ENV_OPTIONS[name])}${got}`)
  }
  return [...lines.values()]
}

/** The validated configuration, defaults applied; InvalidOptionError (one line per bad variable) otherwise. */
export function loadConfig (options: LoadConfigOptions = {}): EnvConfig {
  const env = { ...options.env }
  try {
    return readEnv({ schema: structuredClone(envSchema), data: env, env: false, dotenv: options.dotenv ?? false }) as unknown as EnvConfig
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors
    if (errors === undefined) throw error
    throw new InvalidOptionError(describeErrors(errors, env).join('\n'))
  }
}
