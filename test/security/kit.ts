/**
 * Shared set-up of the adversarial suite: an app on a manual clock with alice logged in, the attacker's
 * token forge, and a log capture for audit lines.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { SESSION_INVALID_BODY } from '../../src/common/errors.js'
import { loggerOptions } from '../../src/service/logger.js'
import { addUser, buildTestApp, loggedIn, ManualClock, TEST_SECRET, type Client } from '../helper.js'
import { Forge } from './forge.js'

export const ACCESS = '__Host-session'
export const REFRESH = '__Secure-refresh'
/** The exact bytes of the one 401 answer every token failure gets. */
export const INVALID_JSON = JSON.stringify(SESSION_INVALID_BODY)

/** Every log line an app writes, parsed. */
export class LogCapture {
  readonly lines: string[] = []
  readonly stream = { write: (line: string): void => { this.lines.push(line) } }

  get records (): Array<Record<string, unknown>> {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  }

  audits (event: string): Array<Record<string, unknown>> {
    return this.records.filter((record) => record['audit'] === event)
  }

  /** The logger options of the service (its redaction included), writing here, at `level`. */
  logger (level = 'trace'): Record<string, unknown> {
    return { ...loggerOptions(level), stream: this.stream }
  }
}

export interface SecurityApp {
  app: FastifyInstance
  clock: ManualClock
  forge: Forge
  alice: Client
  aliceId: string
  logs: LogCapture
}

export interface SecurityAppOptions {
  env?: Record<string, string>
  /** Verified-token cache on (default) or off. */
  cache?: boolean
  /** Log in alice (default true). */
  login?: boolean
}

/** An app with test config on a manual clock, logging into a capture, with alice (optionally) logged in. */
export async function securityApp (t: Test, options: SecurityAppOptions = {}): Promise<SecurityApp> {
  const clock = new ManualClock()
  const logs = new LogCapture()
  const app = await buildTestApp(t, {
    clock: clock.now,
    logger: logs.logger(),
    env: { LOG_LEVEL: 'trace', ...options.env },
    ...(options.cache === false ? { verifiedTokenCacheSize: 0 } : {})
  })
  const aliceId = await addUser(app, 'alice')
  const alice = options.login === false ? undefined : await loggedIn(t, app, 'alice', undefined, clock)
  return { app, clock, forge: new Forge(TEST_SECRET), alice: alice as Client, aliceId, logs }
}

/** GET /auth/session with exactly this Cookie header. */
export async function sessionWith (app: FastifyInstance, cookie: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: '/auth/session', headers: { cookie, ...headers } })
}

/** POST /auth/refresh with exactly this Cookie header. */
export async function refreshWith (app: FastifyInstance, cookie: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie, ...headers } })
}

/** Asserts the one 401 answer: status, exact body bytes, no-store. */
export function assertInvalid (t: Test, response: LightMyRequestResponse, name: string): void {
  t.equal(response.statusCode, 401, `${name}: 401`)
  t.equal(response.body, INVALID_JSON, `${name}: the standard body`)
  t.equal(response.headers['cache-control'], 'no-store', `${name}: no-store`)
}
