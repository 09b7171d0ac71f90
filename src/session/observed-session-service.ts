/**
 * The session service, counted and traced: login, refresh and logout each count their outcome
 * (session-counters.ts) and, with a tracer, run in a span (`session.login`, `session.refresh`,
 * `session.logout`) that store operations nest under. Spans carry outcomes and reasons only: never a token,
 * a cookie, a password, a username or a user id (docs/operations.md).
 */
import { SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api'
import type { SessionCounters } from './session-counters.js'
import { SessionService, type ClientInfo, type LoginResult, type RefreshResult, type SecondFactorHold, type SessionServiceOptions } from './session-service.js'

export interface SessionTelemetry {
  counters: SessionCounters
  /** Spans only with a tracer (the plugin's `tracing` option). */
  tracer?: Tracer | undefined
}

/** A bounded name for an error, for a span: its code (ERR_...) or its class, never its message. */
export function errorType (error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return code
  return error instanceof Error ? error.name.slice(0, 64) : 'unknown'
}

/** Runs `work` in an active span named `name` (or bare, without a tracer); `describe` gives the result's attributes. */
export async function inSpan<T> (tracer: Tracer | undefined, name: string, work: () => Promise<T>, describe: (result: T) => Attributes, attributes?: Attributes): Promise<T> {
  if (tracer === undefined) return await work()
  return await tracer.startActiveSpan(name, attributes === undefined ? {} : { attributes }, async (span) => {
    try {
      const result = await work()
      span.setAttributes(describe(result))
      return result
    } catch (error) {
      const type = errorType(error)
      span.setAttribute('error.type', type)
      span.setStatus({ code: SpanStatusCode.ERROR, message: type })
      throw error
    } finally {
      span.end()
    }
  })
}

const LOGIN_OUTCOMES = { credentials: 'invalid_credentials', revoked: 'credentials_changed', 'too-slow': 'too_slow' } as const

function loginOutcome (result: LoginResult | SecondFactorHold): keyof SessionCounters['logins'] {
  if (result.status === 'second-factor') return 'second_factor_required'
  return result.status === 'issued' ? 'succeeded' : LOGIN_OUTCOMES[result.reason]
}

function refreshOutcome (result: RefreshResult): keyof SessionCounters['refreshes'] {
  switch (result.status) {
    case 'issued': return result.replayed ? 'replayed' : 'rotated'
    case 'reuse': return 'reuse_detected'
    case 'invalid': return 'invalid'
  }
}

export class ObservedSessionService extends SessionService {
  readonly #counters: SessionCounters
  readonly #tracer: Tracer | undefined

  constructor (options: SessionServiceOptions, telemetry: SessionTelemetry) {
    super({ ...options, accessCounts: telemetry.counters.access })
    this.#counters = telemetry.counters
    this.#tracer = telemetry.tracer
  }

  override async login (username: string, password: string, client: ClientInfo): Promise<LoginResult>
  override async login (username: string, password: string, client: ClientInfo, needsSecondFactor: ((userId: string) => Promise<boolean>) | undefined): Promise<LoginResult | SecondFactorHold>
  override async login (username: string, password: string, client: ClientInfo, needsSecondFactor?: (userId: string) => Promise<boolean>): Promise<LoginResult | SecondFactorHold> {
    return await this.#countedLogin(async () => await super.login(username, password, client, needsSecondFactor))
  }

  /** The second step of a two-step login: counted like a login (the first step was `second_factor_required`). */
  override async finishLogin (hold: Omit<SecondFactorHold, 'status'>, client: ClientInfo, amr: readonly string[]): Promise<LoginResult> {
    return await this.#countedLogin(async () => await super.finishLogin(hold, client, amr))
  }

  /** Either step of a login, in a `session.login` span, counted by outcome (a thrown store error as `error`). */
  async #countedLogin<T extends LoginResult | SecondFactorHold> (work: () => Promise<T>): Promise<T> {
    try {
      const result = await inSpan(this.#tracer, 'session.login', work, (r) => ({ 'session.outcome': loginOutcome(r) }))
      this.#counters.logins[loginOutcome(result)]++
      return result
    } catch (error) {
      this.#counters.logins.error++
      throw error
    }
  }

  override async refresh (token: string, clientAddress?: string): Promise<RefreshResult> {
    try {
      const result = await inSpan(this.#tracer, 'session.refresh', async () => await super.refresh(token, clientAddress), (r) => ({
        'session.outcome': refreshOutcome(r),
        ...(r.status === 'invalid' ? { 'session.reason': r.reason } : {}),
        ...(r.status === 'issued' ? { 'session.generation': r.generation } : {})
      }))
      this.#counters.refreshes[refreshOutcome(result)]++
      return result
    } catch (error) {
      this.#counters.refreshes.error++
      throw error
    }
  }

  override async logout (accessToken: string | undefined, refreshToken: string | undefined): Promise<{ userId: string, familyId: string } | null> {
    return await inSpan(this.#tracer, 'session.logout', async () => await super.logout(accessToken, refreshToken),
      (r) => ({ 'session.outcome': r === null ? 'no_session' : 'ended' }))
  }
}
