/**
 * A browser as the session client sees it, for tests under Node.js: `fetch` answered by the real app through
 * inject() with a shared cookie jar (so several clients are several tabs of one browser), a Web Locks
 * stand-in, and timers driven by the test's clock. BroadcastChannel is Node's own.
 */
import type { FastifyInstance } from 'fastify'
import type { FetchLike } from '../../src/client/session-client.js'
import type { LockManagerLike } from '../../src/client/tab-lock.js'
import { CookieJar, type ManualClock } from '../helper.js'

export interface RecordedCall {
  method: string
  path: string
  credentials: RequestCredentials
  contentType: string | null
  body: string
}

export interface InjectFetch extends FetchLike {
  calls: RecordedCall[]
}

/**
 * fetch() answered by `app`. Cookies come from and go to `jar` unless the call says `credentials: 'omit'`.
 * The Date header follows `serverNow` when given, and is left out otherwise (inject() would send the real
 * time, which is not the test's clock).
 */
export function injectFetch (app: FastifyInstance, jar: CookieJar, serverNow?: () => number): InjectFetch {
  const calls: RecordedCall[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? new Request(input, init) : new Request(new URL(String(input), 'http://localhost'), init)
    const url = new URL(request.url)
    const body = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text()
    const headers: Record<string, string> = {}
    request.headers.forEach((value, name) => { headers[name] = value })
    calls.push({ method: request.method, path: url.pathname, credentials: request.credentials, contentType: request.headers.get('content-type'), body })
    const cookie = request.credentials === 'omit' ? '' : jar.header(url.pathname)
    if (cookie !== '') headers['cookie'] = cookie
    const response = await app.inject({ method: request.method as 'GET', url: url.pathname + url.search, headers, ...(body === '' ? {} : { payload: body }) })
    jar.store(response)
    const responseHeaders = new Headers()
    for (const [name, value] of Object.entries(response.headers)) {
      // Browsers never show Set-Cookie to scripts.
      if (name !== 'set-cookie' && name !== 'date' && value !== undefined) responseHeaders.set(name, String(value))
    }
    if (serverNow !== undefined) responseHeaders.set('date', new Date(serverNow()).toUTCString())
    return new Response(response.statusCode === 204 ? null : response.body, { status: response.statusCode, headers: responseHeaders })
  }
  return Object.assign(fetch, { calls })
}

/** fetch() that answers from a script, for the answers the real app never gives (503, garbage). */
export function scriptedFetch (answers: Array<Response | Error | (() => Response | Promise<Response>)>): InjectFetch {
  const calls: RecordedCall[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? new Request(input, init) : new Request(new URL(String(input), 'http://localhost'), init)
    calls.push({ method: request.method, path: new URL(request.url).href.replace('http://localhost', ''), credentials: request.credentials, contentType: request.headers.get('content-type'), body: await request.text() })
    const answer = answers.shift()
    if (answer === undefined) throw new Error(`no scripted answer for ${request.method} ${request.url}`)
    if (answer instanceof Error) throw answer
    return typeof answer === 'function' ? await answer() : answer
  }
  return Object.assign(fetch, { calls })
}

export function json (status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
}

/** A session body as the service sends it, expiring `accessSeconds` after `now`. */
export function sessionJson (now: number, accessSeconds = 900, id = 'session-one-000000000', refreshSeconds = 604800): unknown {
  return {
    user: { id: 'user-1', username: 'alice', roles: ['reader'] },
    session: {
      id,
      accessExpiresAt: new Date(now + accessSeconds * 1000).toISOString(),
      refreshExpiresAt: new Date(now + refreshSeconds * 1000).toISOString(),
      absoluteExpiresAt: new Date(now + 2592000 * 1000).toISOString()
    }
  }
}

/** Web Locks for tests: one FIFO queue per name, shared by the "tabs" given the same instance. */
export class FakeLocks implements LockManagerLike {
  readonly #held = new Set<string>()
  readonly #queues = new Map<string, Array<() => void>>()
  #onGrant: Array<() => void> = []

  /** Resolves once some tab holds a lock (at once if one does). */
  async whenHeld (): Promise<void> {
    if (this.#held.size > 0) return
    await new Promise<void>((resolve) => { this.#onGrant.push(resolve) })
  }

  async request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T> {
    const queue = this.#queues.get(name) ?? []
    this.#queues.set(name, queue)
    if (this.#held.has(name)) {
      if (options.ifAvailable === true) return await callback(null)
      // Woken by the holder, which hands the lock over.
      await new Promise<void>((resolve) => { queue.push(resolve) })
    } else {
      this.#held.add(name)
    }
    for (const notify of this.#onGrant.splice(0)) notify()
    try {
      return await callback({ name })
    } finally {
      const next = queue.shift()
      if (next === undefined) this.#held.delete(name)
      else next()
    }
  }
}

/** Timers run by the test: `advance` moves the clock and runs what fell due, in order. */
export class FakeTimers {
  readonly #clock: ManualClock
  #next = 1
  readonly pending = new Map<number, { at: number, callback: () => void }>()

  constructor (clock: ManualClock) {
    this.#clock = clock
  }

  readonly setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#next++
    this.pending.set(id, { at: this.#clock.ms + Math.max(ms, 0), callback })
    return id
  }

  readonly clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number)
  }

  /** The time the earliest timer is due, or undefined. */
  get nextAt (): number | undefined {
    return [...this.pending.values()].reduce<number | undefined>((min, t) => min === undefined || t.at < min ? t.at : min, undefined)
  }

  /** Moves the clock to each due timer in turn (up to `seconds` ahead), runs it, and lets it settle. */
  async advance (seconds: number): Promise<void> {
    const until = this.#clock.ms + seconds * 1000
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0]
      if (due === undefined) break
      this.pending.delete(due[0])
      this.#clock.ms = Math.max(this.#clock.ms, due[1].at)
      due[1].callback()
      await settle()
    }
    this.#clock.ms = until
  }
}

/** Lets pending promise chains, inject() round trips and channel messages run. */
export async function settle (rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve))
}

export function newJar (clock: ManualClock): CookieJar {
  return new CookieJar(clock.now)
}
