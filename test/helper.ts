/**
 * Test helpers: an app built with test configuration (passed as data, never through process.env), a clock
 * the test moves, and a cookie jar for `inject()` that honours Path and Max-Age like a browser would.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { buildApp, type BuildAppOptions } from '../src/service/app.js'

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'
export const TEST_PASSWORD = 'correct horse battery staple'
/** Cheap argon2id for tests that are not about hashing cost. */
export const FAST_HASH = { memoryCost: 1024, timeCost: 1, parallelism: 1 }

/** A clock the test moves by hand; starts at a fixed, realistic time. */
export class ManualClock {
  ms: number

  constructor (start = Date.UTC(2026, 10, 26, 12, 0, 0)) {
    this.ms = start
  }

  readonly now = (): number => this.ms

  advance (seconds: number): void {
    this.ms += seconds * 1000
  }

  get seconds (): number {
    return Math.floor(this.ms / 1000)
  }
}

export function tempDir (t: Test, prefix = 'session-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function testEnv (overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    STORE: 'memory',
    SESSION_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    ...overrides
  }
}

export interface TestAppOptions extends Omit<BuildAppOptions, 'env'> {
  env?: Record<string, string>
}

/** Builds the standalone app with test configuration; closed when the test ends. */
export async function buildTestApp (t: Test, options: TestAppOptions = {}): Promise<FastifyInstance> {
  const app = await buildApp({
    passwordHashCost: FAST_HASH,
    ...options,
    env: testEnv({ DATA_DIR: tempDir(t), ...options.env })
  })
  t.teardown(async () => await app.close())
  await app.ready()
  return app
}

interface StoredCookie {
  value: string
  path: string
  expiresAtMs: number | undefined
  attributes: Record<string, string | true>
}

/** The parsed attributes of one Set-Cookie header. */
export function parseSetCookie (header: string): { name: string, value: string, attributes: Record<string, string | true> } {
  const [pair = '', ...rest] = header.split(';')
  const eq = pair.indexOf('=')
  const attributes: Record<string, string | true> = {}
  for (const part of rest) {
    const [key = '', ...value] = part.trim().split('=')
    attributes[key.toLowerCase()] = value.length === 0 ? true : value.join('=')
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes }
}

export function setCookieHeaders (response: LightMyRequestResponse): string[] {
  const header = response.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** A browser-like cookie jar for inject(): keeps cookies by name, sends those whose Path matches. */
export class CookieJar {
  readonly cookies = new Map<string, StoredCookie>()
  readonly #clock: () => number

  constructor (clock: () => number = Date.now) {
    this.#clock = clock
  }

  store (response: LightMyRequestResponse): this {
    for (const header of setCookieHeaders(response)) {
      const { name, value, attributes } = parseSetCookie(header)
      const maxAge = attributes['max-age']
      if (maxAge !== undefined && Number(maxAge) <= 0) {
        this.cookies.delete(name)
        continue
      }
      this.cookies.set(name, {
        value,
        path: typeof attributes['path'] === 'string' ? attributes['path'] : '/',
        expiresAtMs: maxAge === undefined ? undefined : this.#clock() + Number(maxAge) * 1000,
        attributes
      })
    }
    return this
  }

  get (name: string): string | undefined {
    return this.cookies.get(name)?.value
  }

  /** The Cookie header a browser would send to `url`. */
  header (url: string): string {
    const path = url.split('?')[0] ?? '/'
    const now = this.#clock()
    return [...this.cookies]
      .filter(([, c]) => (c.expiresAtMs === undefined || c.expiresAtMs > now) && (path === c.path || path.startsWith(c.path === '/' ? '/' : c.path + '/')))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ')
  }

  clone (): CookieJar {
    const copy = new CookieJar(this.#clock)
    for (const [name, cookie] of this.cookies) copy.cookies.set(name, { ...cookie })
    return copy
  }
}

export interface Client {
  jar: CookieJar
  request: (method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<LightMyRequestResponse>
}

/** A client bound to an app and a jar: sends the jar's cookies and keeps what the app sets. */
export function client (app: FastifyInstance, jar = new CookieJar()): Client {
  return {
    jar,
    async request (method, url, body, headers = {}) {
      const cookie = jar.header(url)
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: {
          ...(cookie === '' ? {} : { cookie }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) })
      })
      jar.store(response)
      return response
    }
  }
}

/** Adds a user to the app's built-in directory. */
export async function addUser (app: FastifyInstance, username = 'alice', password = TEST_PASSWORD, roles: string[] = []): Promise<string> {
  return (await app.users.add(username, password, roles)).id
}

/** Logs in through the real route and returns the client holding the session cookies. */
export async function loggedIn (t: Test, app: FastifyInstance, username = 'alice', password = TEST_PASSWORD, clock?: ManualClock): Promise<Client> {
  const c = client(app, new CookieJar(clock?.now))
  const response = await c.request('POST', '/auth/login', { username, password })
  t.equal(response.statusCode, 200, `login of ${username} succeeds`)
  return c
}
