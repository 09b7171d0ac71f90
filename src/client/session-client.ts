/**
 * Browser client of the session service, for single-page apps. The tokens live in HttpOnly cookies, so this
 * code never sees them: it keeps what the JSON answers say (who, which session, until when), refreshes
 * shortly before the access token expires, and retries an API call once after a refresh when it gets a 401.
 *
 * Tabs of one browser share the cookies, so they share the work too: every request that can change the
 * cookies runs under one lock per browser (tab-lock.ts), and a login, refresh or logout is announced to the
 * other tabs over a BroadcastChannel, which update at once. See docs/spa.md.
 *
 * Browser code: no Node.js imports, no framework. It also runs in Node.js 20+ (the unit tests).
 */
import type { AccountJson, AccountListJson, LiveSessionJson, SessionJson, UserJson } from '../wire/schemas.js'
import { createTabLock, type ChannelFactory, type ChannelLike, type LockManagerLike } from './tab-lock.js'

export type { ChannelFactory, ChannelLike, LockManagerLike } from './tab-lock.js'

/** The user of a session, as the service's answers carry it (src/wire/schemas.ts). */
export type SessionUser = UserJson

/** What the client knows about the current session. Times are milliseconds since the epoch, on this browser's clock. */
export interface SessionState {
  readonly user: Readonly<SessionUser>
  /** Session id: stable across refreshes; the `id` of this session in `sessions()`. */
  readonly sessionId: string
  /** When the access token expires; the client refreshes shortly before. */
  readonly accessExpiresAt: number
  /** When the session ends unless it is refreshed first (idle timeout). */
  readonly refreshExpiresAt: number
  /** When the session ends whatever happens (absolute lifetime, counted from login). */
  readonly absoluteExpiresAt: number
}

/** One live session of the user, as GET /auth/sessions lists it (`current`: the session of this browser). */
export type LiveSession = LiveSessionJson

/** A user as the admin routes show it (times as ISO strings; never a password hash). */
export type Account = AccountJson

/** A page of users from `admin.listUsers`. */
export type AccountPage = AccountListJson

/**
 * The admin routes (<prefix>/admin/...), for a user holding the admin role: anyone else gets a
 * SessionClientError with status 403 and code ERR_FORBIDDEN. Errors keep their documented codes
 * (ERR_USER_NOT_FOUND, ERR_USER_EXISTS, ERR_PASSWORD_POLICY, ERR_LAST_ADMIN, ERR_ADMIN_SELF_CHANGE, ...).
 */
export interface SessionAdmin {
  /** A page of users (default 50 from the first), optionally only usernames containing `search`. */
  listUsers: (query?: { search?: string, offset?: number, limit?: number }) => Promise<AccountPage>
  getUser: (id: string) => Promise<Account>
  createUser: (user: { username: string, password: string, roles?: string[] }) => Promise<Account>
  /** Disabling ends every session of the user at once. */
  disableUser: (id: string) => Promise<Account>
  enableUser: (id: string) => Promise<Account>
  /** Deleting ends every session of the user at once. */
  deleteUser: (id: string) => Promise<void>
  /** A role taken away ends the user's sessions at once; one added reaches them at their next refresh. */
  setRoles: (id: string, roles: string[]) => Promise<Account>
  /** Ends every session of the user at once. */
  setPassword: (id: string, password: string) => Promise<Account>
  listSessions: (id: string) => Promise<LiveSession[]>
  /** Ends every session of the user; resolves to how many were live. */
  endSessions: (id: string) => Promise<number>
  endSession: (id: string, sessionId: string) => Promise<void>
}

/**
 * Why the session ended: `logout` (this tab logged out), `logged-out-elsewhere` (another tab of this browser
 * did), `expired` (idle or absolute lifetime reached), `revoked` (ended by the server: logout everywhere,
 * ended from another device, password change, reuse detection). The server answers every refused refresh
 * with the same 401 on purpose, so `expired` versus `revoked` is the client's reading of the expiry times it knows.
 */
export type LogoutReason = 'logout' | 'logged-out-elsewhere' | 'expired' | 'revoked'

export interface SessionClientEvents {
  /** The session started, was refreshed, or ended (then `null`). */
  change: SessionState | null
  /** The session ended. */
  logout: { reason: LogoutReason }
  /**
   * A sensitive call was refused because the user's authentication is too old (`ERR_REAUTH_REQUIRED`) or lacks
   * a second factor (`secondFactor: true`, `ERR_STRONGER_AUTH_REQUIRED`): the session is fine. Ask for the
   * password (and code), call `reauth()`, then retry. `maxAge`: the route's limit in seconds, when known.
   */
  reauthRequired: { maxAge: number | null, secondFactor: boolean }
}

/** Codes of a 401 that mean "authenticate again", not "no session": never answered with a refresh. */
const REAUTH_CODES = new Set(['ERR_REAUTH_REQUIRED', 'ERR_STRONGER_AUTH_REQUIRED'])

/** An error answer of the service: `status` and `code` as documented in docs/errors.md. */
export class SessionClientError extends Error {
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'SessionClientError'
    this.status = status
    this.code = code
  }
}

/** What `fetch` takes: the DOM library's `RequestInfo | URL`, spelled out so that programs without the DOM library (Node.js) compile too. */
export type FetchInput = string | URL | Request
export type FetchLike = (input: FetchInput, init?: RequestInit) => Promise<Response>

export interface SessionClientOptions {
  /** Origin (and path, if any) where the service is mounted; default `''`: the page's own origin. */
  baseUrl?: string
  /** Prefix of the auth routes (the service's AUTH_PREFIX). Default `/auth`. */
  authPrefix?: string
  /** Refresh this long before the access token expires (at most a quarter of its lifetime). Default 30. */
  refreshMarginSeconds?: number
  /** Name of the lock and channel shared by the tabs. Default derived from baseUrl and authPrefix. */
  channelName?: string
  /** The rest replace browser globals: tests pass fakes; `null` turns a mechanism off. */
  fetch?: FetchLike
  locks?: LockManagerLike | null
  broadcastChannel?: ChannelFactory | null
  now?: () => number
  setTimeout?: (callback: () => void, ms: number) => unknown
  clearTimeout?: (handle: unknown) => void
}

/** A timer-driven refresh never follows a fresh session sooner than this, whatever the clocks say. */
const MIN_REFRESH_INTERVAL_MS = 5000
/** After a failed refresh (network, 5xx), try again this much later. */
const RETRY_MS = 5000
/** Clock differences under this are the Date header's one-second resolution, not skew. */
const SKEW_THRESHOLD_MS = 2000

type ServerSession = SessionJson

type Listener<K extends keyof SessionClientEvents> = (event: SessionClientEvents[K]) => void
type Message = { type: 'session', state: SessionState } | { type: 'logout', reason: 'logout' | 'expired' | 'revoked' }

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function isStringArray (value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function isUser (value: unknown): value is SessionUser {
  return isObject(value) && typeof value['id'] === 'string' && typeof value['username'] === 'string' && isStringArray(value['roles'])
}

function isServerSession (value: unknown): value is ServerSession {
  if (!isObject(value) || !isUser(value['user']) || !isObject(value['session'])) return false
  const s = value['session']
  return typeof s['id'] === 'string' &&
    ['accessExpiresAt', 'refreshExpiresAt', 'absoluteExpiresAt'].every((k) => typeof s[k] === 'string' && Number.isFinite(Date.parse(s[k] as string)))
}

function isState (value: unknown): value is SessionState {
  return isObject(value) && isUser(value['user']) && typeof value['sessionId'] === 'string' &&
    ['accessExpiresAt', 'refreshExpiresAt', 'absoluteExpiresAt'].every((k) => Number.isFinite(value[k]))
}

function isAccount (value: unknown): value is Account {
  return isObject(value) && typeof value['id'] === 'string' && typeof value['username'] === 'string' && isStringArray(value['roles']) &&
    typeof value['disabled'] === 'boolean' && typeof value['createdAt'] === 'string' && typeof value['updatedAt'] === 'string'
}

function isLiveSession (value: unknown): value is LiveSession {
  return isObject(value) && typeof value['id'] === 'string' && typeof value['createdAt'] === 'string' &&
    typeof value['lastRefreshedAt'] === 'string' && (typeof value['userAgent'] === 'string' || value['userAgent'] === null) &&
    typeof value['current'] === 'boolean'
}

function freeze (state: SessionState): SessionState {
  return Object.freeze({
    ...state,
    user: Object.freeze({ id: state.user.id, username: state.user.username, roles: Object.freeze([...state.user.roles]) as string[] })
  })
}

async function jsonOf (response: Response): Promise<unknown> {
  try {
    return await response.json()
  } catch {
    return undefined
  }
}

async function errorOf (response: Response): Promise<SessionClientError> {
  const body = await jsonOf(response)
  if (isObject(body) && typeof body['code'] === 'string' && typeof body['message'] === 'string') {
    return new SessionClientError(response.status, body['code'], body['message'])
  }
  return new SessionClientError(response.status, 'ERR_UNEXPECTED_RESPONSE', `Unexpected answer: HTTP ${response.status}`)
}

function unexpected (response: Response): SessionClientError {
  return new SessionClientError(response.status, 'ERR_UNEXPECTED_RESPONSE', 'The service answered with an unexpected body')
}

function defaultChannelFactory (): ChannelFactory | undefined {
  if (typeof BroadcastChannel !== 'function') return undefined
  return (name) => new BroadcastChannel(name)
}

/** The browser's Web Locks, which exist only in secure contexts (https, localhost). */
function defaultLocks (): LockManagerLike | undefined {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks
}

export class SessionClient {
  /** baseUrl without its trailing slashes ('' for the page's own origin). */
  readonly #origin: string
  /** Where the auth routes are: #origin + authPrefix. */
  readonly #base: string
  readonly #marginMs: number
  readonly #fetch: FetchLike
  readonly #now: () => number
  readonly #setTimeout: (callback: () => void, ms: number) => unknown
  readonly #clearTimeout: (handle: unknown) => void
  readonly #channel: ChannelLike | undefined
  readonly #lock: ReturnType<typeof createTabLock>
  readonly #listeners: { [K in keyof SessionClientEvents]: Set<Listener<K>> } = { change: new Set(), logout: new Set(), reauthRequired: new Set() }

  #state: SessionState | null = null
  /** True once the service said there is no session (until the next login or adopted session). */
  #none = false
  /** Counts state changes: a refresh that finds it moved knows someone else already did the work. */
  #version = 0
  /** When this tab last got new tokens (its own login or refresh, or another tab's). */
  #freshAt = 0
  #refreshAt: number | null = null
  /** Lifetime of the access token, as seen when it was new: the refresh margin is a share of it. */
  #lifetimeMs: number | null = null
  /** Server clock minus this browser's clock, from the Date header. */
  #skew = 0
  #timer: unknown
  #inflight: Promise<SessionState | null> | undefined
  #closed = false

  /** The admin routes: see SessionAdmin. */
  readonly admin: SessionAdmin = {
    listUsers: async (query = {}) => {
      const params = new URLSearchParams()
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value))
      const body = await this.#json('GET', `/admin/users${params.toString() === '' ? '' : `?${params.toString()}`}`)
      if (!isObject(body) || !Array.isArray(body['users']) || !body['users'].every(isAccount) || typeof body['total'] !== 'number') throw this.#unexpected()
      return body as AccountPage
    },
    getUser: async (id) => await this.#account('GET', `/admin/users/${encodeURIComponent(id)}`),
    createUser: async (user) => await this.#account('POST', '/admin/users', user),
    disableUser: async (id) => await this.#account('POST', `/admin/users/${encodeURIComponent(id)}/disable`),
    enableUser: async (id) => await this.#account('POST', `/admin/users/${encodeURIComponent(id)}/enable`),
    deleteUser: async (id) => { await this.#json('DELETE', `/admin/users/${encodeURIComponent(id)}`) },
    setRoles: async (id, roles) => await this.#account('PUT', `/admin/users/${encodeURIComponent(id)}/roles`, { roles }),
    setPassword: async (id, password) => await this.#account('PUT', `/admin/users/${encodeURIComponent(id)}/password`, { password }),
    listSessions: async (id) => this.#sessionList(await this.#json('GET', `/admin/users/${encodeURIComponent(id)}/sessions`)),
    endSessions: async (id) => this.#ended(await this.#json('DELETE', `/admin/users/${encodeURIComponent(id)}/sessions`)),
    endSession: async (id, sessionId) => { await this.#json('DELETE', `/admin/users/${encodeURIComponent(id)}/sessions/${encodeURIComponent(sessionId)}`) }
  }

  constructor (options: SessionClientOptions = {}) {
    this.#origin = (options.baseUrl ?? '').replace(/\/+$/, '')
    this.#base = this.#origin + (options.authPrefix ?? '/auth')
    this.#marginMs = (options.refreshMarginSeconds ?? 30) * 1000
    const fetchImpl = options.fetch ?? globalThis.fetch
    // Wrapped: a browser's fetch or setTimeout called as a method of another object throws "Illegal invocation".
    this.#fetch = async (input, init) => await fetchImpl(input, init)
    this.#now = options.now ?? Date.now
    const setTimer = options.setTimeout ?? ((callback: () => void, ms: number) => globalThis.setTimeout(callback, ms))
    const clearTimer = options.clearTimeout ?? ((handle: unknown) => { globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>) })
    this.#setTimeout = (callback, ms) => setTimer(callback, ms)
    this.#clearTimeout = (handle) => { clearTimer(handle) }

    const name = options.channelName ?? `stateless-session ${this.#base}`
    const channel = options.broadcastChannel === undefined ? defaultChannelFactory() : options.broadcastChannel ?? undefined
    const locks = options.locks === undefined ? defaultLocks() : options.locks ?? undefined
    this.#channel = channel?.(name)
    this.#channel?.addEventListener('message', (event) => { this.#receive(event.data) })
    this.#lock = createTabLock({
      name: `${name} lock`,
      locks,
      channel,
      now: this.#now,
      setTimeout: this.#setTimeout,
      clearTimeout: this.#clearTimeout
    })
  }

  /** The current session as last known, or null. */
  get state (): SessionState | null {
    return this.#state
  }

  /** When the next refresh is planned (milliseconds since the epoch), or null without a session. */
  get nextRefreshAt (): number | null {
    return this.#refreshAt
  }

  /** Listens to `change` or `logout`; returns the function that stops listening. */
  on<K extends keyof SessionClientEvents>(type: K, listener: Listener<K>): () => void {
    const listeners = this.#listeners[type] as Set<Listener<K>>
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }

  /**
   * Logs in (a new session, whatever this browser had before) and tells the other tabs. For a user with a
   * second factor the password is only the first step: this rejects with code ERR_SECOND_FACTOR_REQUIRED
   * (status 200, no session yet); then call `verifySecondFactor()` with the app's code or a recovery code.
   */
  async login (username: string, password: string): Promise<SessionState> {
    return await this.#lock.run(async () => {
      const response = await this.#send('POST', '/login', { username, password })
      if (!response.ok) throw await errorOf(response)
      const body = await jsonOf(response.clone())
      if (isObject(body) && body['secondFactorRequired'] === true) {
        throw new SessionClientError(response.status, 'ERR_SECOND_FACTOR_REQUIRED', 'This account has a second factor: call verifySecondFactor() with its code')
      }
      return await this.#adopt(response, { announce: true, fresh: true })
    })
  }

  /**
   * The second step of a login after ERR_SECOND_FACTOR_REQUIRED: `{ code }` from the authenticator app, or a
   * `{ recoveryCode }`. Rejects with ERR_INVALID_SECOND_FACTOR (try the next code), ERR_PENDING_LOGIN_INVALID
   * (log in again) or ERR_RATE_LIMITED.
   */
  async verifySecondFactor (proof: { code: string } | { recoveryCode: string }): Promise<SessionState> {
    return await this.#lock.run(async () => {
      const response = await this.#send('POST', '/login/second-factor', proof)
      if (!response.ok) throw await errorOf(response)
      return await this.#adopt(response, { announce: true, fresh: true })
    })
  }

  /**
   * Re-authenticates the current session (after a `reauthRequired` event): the password, and the code for a
   * user with a second factor. Same session, renewed authentication time, announced to the other tabs. A wrong
   * password or code rejects with 403 ERR_WRONG_PASSWORD; a missing code with 401 ERR_SECOND_FACTOR_REQUIRED.
   */
  async reauth (password: string, code?: string): Promise<SessionState> {
    let state: SessionState | undefined
    const response = await this.#authed(async () => await this.#lock.run(async () => {
      const answer = await this.#send('POST', '/reauth', code === undefined ? { password } : { password, code })
      if (answer.ok) state = await this.#adopt(answer, { announce: true, fresh: true })
      return answer
    }))
    if (!response.ok || state === undefined) throw await errorOf(response)
    return state
  }

  /** Logs out this browser's session (all its tabs). */
  async logout (): Promise<void> {
    await this.#lock.run(async () => {
      const response = await this.#send('POST', '/logout')
      if (!response.ok) throw await errorOf(response)
      this.#end('logout', true)
    })
  }

  /** Ends every session of the user, on every device. */
  async logoutAll (): Promise<void> {
    const response = await this.#authed(async () => await this.#lock.run(async () => {
      const answer = await this.#send('POST', '/logout-all')
      if (answer.ok) this.#end('logout', true)
      return answer
    }))
    if (!response.ok) throw await errorOf(response)
  }

  /**
   * The current session from the service: the access cookie if it is still good, else a refresh (the
   * access cookie may simply have expired). Null when there is no session. Call it when the app starts.
   */
  async session (): Promise<SessionState | null> {
    // Asked first, so an anonymous start sends no request that answers 401 (a red line in the console).
    // A service before GET <prefix>/session/status answers 404: then as before.
    const status = await this.#send('GET', '/session/status')
    if (status.ok) {
      const body: unknown = await status.json()
      if (isObject(body) && body['authenticated'] === false) return body['refreshable'] === true ? await this.refresh() : null
    } else if (status.status !== 404) {
      throw await errorOf(status)
    }
    const response = await this.#send('GET', '/session')
    if (response.ok) return await this.#adopt(response, { announce: false, fresh: false })
    if (response.status === 401) return await this.refresh()
    throw await errorOf(response)
  }

  /** The user's live sessions on all devices (login time, last seen, client address, user agent). */
  async listSessions (): Promise<LiveSession[]> {
    return this.#sessionList(await this.#json('GET', '/sessions'))
  }

  /** The same as `listSessions()`. */
  async sessions (): Promise<LiveSession[]> {
    return await this.listSessions()
  }

  /** Ends every other session of the user (other devices and browsers) in one call; resolves to how many. */
  async endOtherSessions (): Promise<number> {
    return this.#ended(await this.#json('DELETE', '/sessions'))
  }

  /**
   * Changes the password of the signed-in user. Every other session of the user ends at once; this browser
   * gets a new session (a new `sessionId`), announced to its other tabs. A user with a second factor sends its
   * code too (as for `reauth`). A wrong current password or code rejects with status 403, code
   * ERR_WRONG_PASSWORD; a missing code with 401 ERR_SECOND_FACTOR_REQUIRED; a new password outside the policy
   * with 400 ERR_PASSWORD_POLICY, one equal to the current password with 400 ERR_PASSWORD_UNCHANGED.
   */
  async changePassword (currentPassword: string, newPassword: string, code?: string): Promise<SessionState> {
    let state: SessionState | undefined
    const response = await this.#authed(async () => await this.#lock.run(async () => {
      const answer = await this.#send('POST', '/password', code === undefined ? { currentPassword, newPassword } : { currentPassword, newPassword, code })
      if (answer.ok) state = await this.#adopt(answer, { announce: true, fresh: true })
      return answer
    }))
    if (!response.ok || state === undefined) throw await errorOf(response)
    return state
  }

  /** Creates an account and logs in (only where the service has SIGNUP=open; otherwise 404 ERR_ROUTE_NOT_FOUND). */
  async signup (username: string, password: string): Promise<SessionState> {
    return await this.#lock.run(async () => {
      const response = await this.#send('POST', '/signup', { username, password })
      if (!response.ok) throw await errorOf(response)
      return await this.#adopt(response, { announce: true, fresh: true })
    })
  }

  /** Ends one session of the user (another device, or this one: then this browser is logged out). */
  async endSession (id: string): Promise<void> {
    const response = await this.#authed(async () => await this.#lock.run(async () => {
      const answer = await this.#send('DELETE', `/sessions/${encodeURIComponent(id)}`)
      if (answer.ok && this.#state?.sessionId === id) this.#end('logout', true)
      return answer
    }))
    if (!response.ok) throw await errorOf(response)
  }

  /**
   * Rotates the tokens now. One refresh at a time per browser: calls made while one runs share it, and a
   * tab that finds another tab has just refreshed uses that result. Null when the session is over.
   */
  async refresh (): Promise<SessionState | null> {
    this.#inflight ??= this.#refreshUnderLock(this.#version).finally(() => { this.#inflight = undefined })
    return await this.#inflight
  }

  /**
   * `fetch` for the app's own API: sends the cookies (`credentials: 'include'` unless `init` says otherwise),
   * refreshes first when the access token is about to expire, and on a 401 refreshes once and retries. A body
   * given as a ReadableStream cannot be sent twice, so such a call is not retried. A path (`/api/orders`,
   * `api/orders?page=2`) goes to `baseUrl` (appended to it, as the auth routes are); an absolute URL, a `URL`
   * or a `Request` goes where it says.
   */
  async fetch (input: FetchInput, init: RequestInit = {}): Promise<Response> {
    const target = this.#resolve(input)
    const options: RequestInit = { ...init, credentials: init.credentials ?? 'include' }
    const attempts = [target instanceof Request ? target.clone() : target, target]
    const replayable = !(init.body instanceof ReadableStream)
    return await this.#authed(async () => await this.#fetch(attempts.pop() as FetchInput, options), replayable)
  }

  /** A path resolved against baseUrl; anything with a scheme (or `//host`) left as it is. */
  #resolve (input: FetchInput): FetchInput {
    if (typeof input !== 'string' || this.#origin === '' || /^([a-z][a-z\d+.-]*:|\/\/)/i.test(input)) return input
    return this.#origin + (input.startsWith('/') ? input : `/${input}`)
  }

  /** Stops the refresh timer and leaves the tabs' channel. */
  close (): void {
    this.#closed = true
    this.#stopTimer()
    this.#channel?.close()
    this.#lock.close()
  }

  /** An authenticated call whose answer must be 2xx: its JSON body (undefined for 204). */
  async #json (method: string, path: string, body?: unknown): Promise<unknown> {
    const send = async (): Promise<Response> => await this.#send(method, path, body)
    // Changes wait for a refresh running in another tab, so they never go out with tokens being rotated.
    const response = await this.#authed(method === 'GET' ? send : async () => await this.#lock.run(send))
    if (!response.ok) throw await errorOf(response)
    this.#last = response
    return response.status === 204 ? undefined : await jsonOf(response)
  }

  /** The last answer #json read, for the status of an unexpected-body error. */
  #last: Response | undefined

  #unexpected (): SessionClientError {
    return new SessionClientError(this.#last?.status ?? 0, 'ERR_UNEXPECTED_RESPONSE', 'The service answered with an unexpected body')
  }

  async #account (method: string, path: string, body?: unknown): Promise<Account> {
    const answer = await this.#json(method, path, body)
    if (!isObject(answer) || !isAccount(answer['user'])) throw this.#unexpected()
    return answer['user']
  }

  #sessionList (body: unknown): LiveSession[] {
    if (!isObject(body) || !Array.isArray(body['sessions']) || !body['sessions'].every(isLiveSession)) throw this.#unexpected()
    return body['sessions']
  }

  #ended (body: unknown): number {
    if (!isObject(body) || typeof body['ended'] !== 'number') throw this.#unexpected()
    return body['ended']
  }

  async #send (method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const init: RequestInit = { method, credentials: 'include', headers }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    return await this.#fetch(this.#base + path, init)
  }

  /** Sends, and on a 401 while a session may exist: refresh (once) and send again. */
  async #authed (send: () => Promise<Response>, replayable = true): Promise<Response> {
    if (this.#due()) await this.refresh().catch(() => null)
    const seen = this.#version
    const first = await send()
    if (first.status !== 401) return first
    if (await this.#reauthChallenge(first)) return first
    if (this.#none || !replayable) return first
    // Another call or tab may have refreshed while this one was out (the session changed, and is not over:
    // #none says so): then just try again.
    const recovered = this.#version !== seen || await this.refresh().then((state) => state !== null, () => false)
    return recovered ? await send() : first
  }

  /** A 401 asking to authenticate again (RFC 9470): the event, and no refresh (the session is fine). */
  async #reauthChallenge (response: Response): Promise<boolean> {
    const body = await jsonOf(response.clone())
    if (!isObject(body) || !REAUTH_CODES.has(body['code'] as string)) return false
    const maxAge = /max_age=(\d+)/.exec(response.headers.get('www-authenticate') ?? '')?.[1]
    this.#emit('reauthRequired', { maxAge: maxAge === undefined ? null : Number(maxAge), secondFactor: body['code'] === 'ERR_STRONGER_AUTH_REQUIRED' })
    return true
  }

  async #refreshUnderLock (seen: number): Promise<SessionState | null> {
    return await this.#lock.run(async (waited) => {
      if (this.#version !== seen && (this.#state === null || !this.#due())) return this.#state
      if (waited && this.#version === seen) {
        // Another tab held the lock, most likely to refresh, and its announcement may still be on the way.
        // The cookies are shared: ask what they say now before rotating again.
        const current = await this.#send('GET', '/session')
        if (current.ok) {
          const state = await this.#adopt(current, { announce: false, fresh: false })
          if (!this.#due()) return state
        }
      }
      const response = await this.#send('POST', '/refresh')
      if (response.ok) return await this.#adopt(response, { announce: true, fresh: true })
      if (response.status !== 401) throw await errorOf(response)
      this.#end(this.#expiredOrRevoked(), true)
      return null
    })
  }

  /**
   * Takes the session from a 200 answer of login or refresh (`fresh`: new tokens, worth telling the other
   * tabs) or of GET session (the same tokens as before).
   */
  async #adopt (response: Response, how: { announce: boolean, fresh: boolean }): Promise<SessionState> {
    const body = await jsonOf(response)
    if (!isServerSession(body)) throw unexpected(response)
    const date = Date.parse(response.headers.get('date') ?? '')
    if (Number.isFinite(date)) {
      const skew = date - this.#now()
      this.#skew = Math.abs(skew) < SKEW_THRESHOLD_MS ? 0 : skew
    }
    const local = (iso: string): number => Date.parse(iso) - this.#skew
    const state: SessionState = {
      user: body.user,
      sessionId: body.session.id,
      accessExpiresAt: local(body.session.accessExpiresAt),
      refreshExpiresAt: local(body.session.refreshExpiresAt),
      absoluteExpiresAt: local(body.session.absoluteExpiresAt)
    }
    return this.#set(state, how)
  }

  #set (state: SessionState, how: { announce: boolean, fresh: boolean }): SessionState {
    const frozen = freeze(state)
    this.#state = frozen
    this.#none = false
    this.#version++
    const now = this.#now()
    if (how.fresh) this.#freshAt = now
    // A session read back (GET session) is part-way through its life; its remaining time is only a guess.
    if (how.fresh || this.#lifetimeMs === null) this.#lifetimeMs = Math.max(frozen.accessExpiresAt - now, 0)
    this.#schedule()
    if (how.announce) this.#post({ type: 'session', state: frozen })
    this.#emit('change', frozen)
    return frozen
  }

  #end (reason: 'logout' | 'expired' | 'revoked', announce: boolean, received = false): void {
    this.#none = true
    // Announced even without a known session: the cookies are shared, so the other tabs have none either.
    if (announce) this.#post({ type: 'logout', reason })
    if (this.#state === null) return
    this.#state = null
    this.#lifetimeMs = null
    this.#version++
    this.#stopTimer()
    this.#emit('change', null)
    this.#emit('logout', { reason: received && reason === 'logout' ? 'logged-out-elsewhere' : reason })
  }

  #expiredOrRevoked (): 'expired' | 'revoked' {
    const state = this.#state
    return state !== null && this.#now() >= Math.min(state.refreshExpiresAt, state.absoluteExpiresAt) ? 'expired' : 'revoked'
  }

  #receive (data: unknown): void {
    if (this.#closed || !isObject(data)) return
    if (data['type'] === 'session' && isState(data['state'])) {
      // Announced after a login or refresh: new tokens.
      this.#set(data['state'], { announce: false, fresh: true })
    } else if (data['type'] === 'logout' && ['logout', 'expired', 'revoked'].includes(data['reason'] as string)) {
      // Expired or revoked elsewhere: this tab judges which from what it knows.
      this.#end(data['reason'] === 'logout' ? 'logout' : this.#expiredOrRevoked(), false, true)
    }
  }

  #post (message: Message): void {
    // A closed channel throws; after close() the other tabs are no longer this client's business.
    if (!this.#closed) this.#channel?.postMessage(message)
  }

  #emit<K extends keyof SessionClientEvents>(type: K, event: SessionClientEvents[K]): void {
    for (const listener of [...this.#listeners[type]] as Array<Listener<K>>) {
      try {
        listener(event)
      } catch (error) {
        // A failing listener must not stop the others or the client; the page still hears of it.
        (globalThis as { reportError?: (error: unknown) => void }).reportError?.(error)
      }
    }
  }

  /** Time to refresh: the access token is about to expire, and the session was not just renewed. */
  #due (): boolean {
    return this.#refreshAt !== null && this.#now() >= this.#refreshAt
  }

  #schedule (): void {
    this.#stopTimer()
    const state = this.#state
    if (state === null || this.#closed) return
    const now = this.#now()
    const margin = Math.min(this.#marginMs, (this.#lifetimeMs as number) / 4)
    // However the clocks disagree, a fresh session is never refreshed again at once (no refresh loop).
    this.#refreshAt = Math.max(state.accessExpiresAt - margin, this.#freshAt + MIN_REFRESH_INTERVAL_MS)
    this.#timer = this.#setTimeout(() => { this.#onTimer() }, this.#refreshAt - now)
  }

  #onTimer (): void {
    this.#timer = undefined
    this.refresh().catch(() => {
      // Network down or service unavailable: keep the session and try again shortly.
      if (this.#state === null || this.#closed || this.#timer !== undefined) return
      this.#refreshAt = this.#now() + RETRY_MS
      this.#timer = this.#setTimeout(() => { this.#onTimer() }, RETRY_MS)
    })
  }

  #stopTimer (): void {
    if (this.#timer !== undefined) this.#clearTimeout(this.#timer)
    this.#timer = undefined
    this.#refreshAt = null
  }
}

/** A session client for the service at `baseUrl` (default: the page's own origin). */
export function createSessionClient (options: SessionClientOptions = {}): SessionClient {
  return new SessionClient(options)
}
