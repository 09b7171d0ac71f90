/**
 * What a session is and how it changes: login, access check, refresh rotation with reuse detection, logout,
 * logout everywhere, listing and ending sessions. No HTTP here (routes/auth-routes.ts maps it onto routes and
 * cookies); no I/O on the access check (the denylist is in memory).
 */
import { newId } from '../common/random-id.js'
import { seconds, type Clock } from '../common/clock.js'
import type { CookieToSet } from '../http/cookies.js'
import type { Denylist } from './denylist.js'
import { CookieTooLargeError, InvalidUserProfileError, StoreUnavailableError } from '../common/errors.js'
import { MAX_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES, type AccessClaims, type BaseClaims } from '../tokens/claims.js'
import type { TokenCodec, VerifyFailure } from '../tokens/token-codec.js'
import type { FamilyRecord, Revocation, SessionStore, SessionUser } from '../stores/session-store.js'

export interface Lifetimes {
  accessTtl: number
  refreshIdleTtl: number
  maxAge: number
  grace: number
  leeway: number
}

/** What `request.session` holds: who, which session, and until when. Frozen; shared between requests. */
export interface SessionInfo {
  /** Session (family) id: stable across refreshes; what GET /auth/sessions lists. */
  readonly id: string
  readonly user: Readonly<SessionUser>
  /** Id and issue time of the access token this request presented. */
  readonly tokenId: string
  readonly issuedAt: number
  readonly accessExpiresAt: number
  readonly refreshExpiresAt: number
  readonly absoluteExpiresAt: number
}

export interface IssuedSession {
  info: SessionInfo
  access: CookieToSet
  refresh: CookieToSet
}

export type AuthFailure = VerifyFailure | 'revoked'

export type LoginResult =
  | { status: 'issued', session: IssuedSession }
  /**
   * `credentials`: wrong or unknown (or a disabled account). `revoked`: they were right when checked, but the
   * user's sessions were ended (a password change, disable, ...) before the session was recorded, so the
   * credentials checked may no longer be valid. `too-slow`: the check took longer than a subject revocation
   * is guaranteed to be remembered (the access token lifetime), so that cannot be ruled out.
   */
  | { status: 'refused', reason: 'credentials' | 'revoked' | 'too-slow' }

export type RefreshResult =
  | { status: 'issued', session: IssuedSession, replayed: boolean, generation: number }
  | { status: 'invalid', reason: VerifyFailure | 'revoked' | 'user-unavailable' | 'session-expired' | 'rejected', userId?: string, familyId?: string }
  | { status: 'reuse', userId: string, familyId: string }

export interface LiveSession {
  id: string
  createdAt: number
  lastRefreshedAt: number
  userAgent: string | null
  current: boolean
}

export type VerifyCredentials = (username: string, password: string) => Promise<SessionUser | null>
export type FindUser = (id: string) => Promise<SessionUser | null>

export interface SessionServiceOptions {
  codec: TokenCodec
  store: SessionStore
  denylist: Denylist
  lifetimes: Lifetimes
  clock: Clock
  verifyCredentials: VerifyCredentials
  findUser?: FindUser | undefined
  /** Verified access tokens remembered (exact text); 0 turns the cache off. */
  verifiedTokenCacheSize: number
  /** Longest token that fits a cookie: MAX_COOKIE_BYTES minus the longest cookie name. */
  maxTokenLength: number
}

/**
 * A copy of the profile the app gave us, or an error saying what is wrong with it: a token that could never
 * verify must not be issued.
 */
function sessionUser (user: SessionUser): SessionUser {
  const text = (value: unknown, max: number): boolean => typeof value === 'string' && value.length > 0 && value.length <= max
  if (typeof user !== 'object' || user === null) throw new InvalidUserProfileError('not an object')
  if (!text(user.id, MAX_NAME_LENGTH)) throw new InvalidUserProfileError(`id must be a string of 1-${MAX_NAME_LENGTH} characters`)
  if (!text(user.username, MAX_NAME_LENGTH)) throw new InvalidUserProfileError(`username must be a string of 1-${MAX_NAME_LENGTH} characters`)
  if (!Array.isArray(user.roles) || user.roles.length > MAX_ROLES || !user.roles.every((role) => text(role, MAX_ROLE_LENGTH))) {
    throw new InvalidUserProfileError(`roles must be an array of at most ${MAX_ROLES} strings of 1-${MAX_ROLE_LENGTH} characters`)
  }
  return { id: user.id, username: user.username, roles: [...user.roles] }
}

async function fromStore<T> (operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (cause) {
    throw new StoreUnavailableError({ cause })
  }
}

/** Slots of the cache's admission filter (64 KiB); a power of two. */
const SEEN_SLOTS = 16384
/** Characters at the end of a token (its GCM tag) that the admission filter fingerprints. */
const FINGERPRINT_CHARS = 12
/** The cache's key: the token's last 22 characters, its GCM authentication tag (16 bytes, base64url). */
const CACHE_KEY_CHARS = 22

/**
 * The cache is keyed on the tag rather than the whole token: a token arrives as a new string on every request,
 * and V8 hashes all of a string's 600-odd characters on its first Map lookup, about 0.8 µs against 0.2 µs
 * for the tag (micro-benchmark of both lookups on fresh strings). The tag differs from token to token; a hit
 * still needs the exact token text, so a token that shares a tag but not its text is verified in full.
 */
interface CachedSession {
  token: string
  info: SessionInfo
}

export class SessionService {
  readonly #o: SessionServiceOptions
  readonly #cache = new Map<string, CachedSession>()
  /** Keys of cached tokens in insertion order, as a ring: `#oldest` is the next to go once the ring is full. */
  readonly #cacheOrder: string[] = []
  #oldest = 0
  /** Admission filter: a 32-bit fingerprint of each recently verified token, by slot (0 = empty). */
  readonly #seenOnce = new Int32Array(SEEN_SLOTS)

  constructor (options: SessionServiceOptions) {
    this.#o = options
  }

  /**
   * The session of an access token, or why there is none. No I/O: crypto (or the cache of tokens already
   * verified, which still re-checks expiry and revocation on every hit) and the in-memory denylist.
   */
  authenticate (token: string): SessionInfo | AuthFailure {
    const now = seconds(this.#o.clock)
    const key = token.slice(-CACHE_KEY_CHARS)
    const cached = this.#cache.get(key)
    let info: SessionInfo
    if (cached === undefined || cached.token !== token) {
      const verified = this.#o.codec.verify('access', token, now)
      if (!verified.ok) return verified.reason
      info = this.#info(verified.claims)
      this.#remember(key, token, info)
    } else {
      info = cached.info
      if (now >= info.accessExpiresAt + this.#o.lifetimes.leeway) {
        this.#cache.delete(key)
        return 'expired'
      }
    }
    return this.#o.denylist.isRevoked(info.tokenId, info.id, info.user.id, info.issuedAt) ? 'revoked' : info
  }

  /**
   * A new session for valid credentials (a new family and new ids, whatever the request carried).
   *
   * A credential change racing with the login cannot leave it a session: the store's revocation mark is taken
   * before the credentials are read, and the store records the family only if no subject revocation of the
   * user came after that mark (atomically). A change ends the user's sessions once it is done, so either the
   * login read the new credentials, or its family existed when the change ended every family, or the store
   * refuses it. Exact, by order in the store; the "not before" of the subject revocation, in whole seconds,
   * does not cover a session issued in the same second.
   */
  async login (username: string, password: string, userAgent: string | null): Promise<LoginResult> {
    const mark = await fromStore(async () => await this.#o.store.revocationMark())
    const startedAt = seconds(this.#o.clock)
    const found = await fromStore(async () => await this.#o.verifyCredentials(username, password))
    if (found === null) return { status: 'refused', reason: 'credentials' }
    const user = sessionUser(found)
    const now = seconds(this.#o.clock)
    const { accessTtl, refreshIdleTtl, maxAge } = this.#o.lifetimes
    // Stores keep the record of a subject revocation until it expires, at least an access token lifetime after
    // it was made; a mark older than that could miss one that was purged meanwhile.
    if (now - startedAt >= accessTtl) return { status: 'refused', reason: 'too-slow' }
    const family: FamilyRecord = {
      id: newId(),
      user,
      authTime: now,
      refreshJti: newId(),
      previousRefreshJti: null,
      accessJti: newId(),
      rotatedAt: now,
      refreshExpiresAt: now + Math.min(refreshIdleTtl, maxAge),
      accessExpiresAt: now + Math.min(accessTtl, maxAge),
      generation: 0,
      userAgent,
      revokedAt: null
    }
    // Tokens are minted (and their size checked) before anything is recorded.
    const issued = this.#issue(family, now)
    const created = await fromStore(async () => await this.#o.store.createFamily(family, mark))
    return created ? { status: 'issued', session: issued } : { status: 'refused', reason: 'revoked' }
  }

  /**
   * Rotates a refresh token (RFC 9700 §4.14.2). The current token gets a new pair; its immediate
   * predecessor, inside the grace window, gets that same pair again (parallel tabs); any other known token
   * of the family is reuse, which revokes the whole family at once.
   */
  async refresh (token: string): Promise<RefreshResult> {
    const now = seconds(this.#o.clock)
    const verified = this.#o.codec.verify('refresh', token, now)
    if (!verified.ok) return { status: 'invalid', reason: verified.reason }
    const claims = verified.claims
    const who = { userId: claims.sub, familyId: claims.sid }
    if (this.#isRevoked(claims)) return { status: 'invalid', reason: 'revoked', ...who }
    const absolute = claims.auth_time + this.#o.lifetimes.maxAge
    if (now >= absolute) return { status: 'invalid', reason: 'session-expired', ...who }

    const findUser = this.#o.findUser
    const found = findUser === undefined ? undefined : await fromStore(async () => await findUser(claims.sub))
    if (found === null) return { status: 'invalid', reason: 'user-unavailable', ...who }
    const user = found === undefined ? undefined : sessionUser(found)
    const { accessTtl, refreshIdleTtl, grace } = this.#o.lifetimes
    const outcome = await fromStore(async () => await this.#o.store.rotate({
      familyId: claims.sid,
      subject: claims.sub,
      presentedJti: claims.jti,
      now,
      graceSeconds: grace,
      next: {
        refreshJti: newId(),
        accessJti: newId(),
        refreshExpiresAt: Math.min(now + refreshIdleTtl, absolute),
        accessExpiresAt: Math.min(now + accessTtl, absolute),
        ...(user === undefined ? {} : { user })
      }
    }))
    switch (outcome.outcome) {
      case 'rotated':
      case 'replayed':
        return {
          status: 'issued',
          session: this.#issue(outcome.family, now),
          replayed: outcome.outcome === 'replayed',
          generation: outcome.family.generation
        }
      case 'reused':
        this.#o.denylist.add(outcome.revocation)
        return { status: 'reuse', ...who }
      case 'rejected':
        return { status: 'invalid', reason: 'rejected', ...who }
    }
  }

  /**
   * Revokes the presented access token and its whole family; with no usable access token, the family of
   * the refresh token. Null when neither names a session (logout stays idempotent).
   *
   * One write: the family's revocation covers its access tokens too (the denylist checks `sid`, and the
   * entry lives until the family's last access token expires), so logout is atomic in every store. Only a
   * family the store does not know (lost with a Redis that restarted empty, say) falls back to revoking the
   * presented access token by its id.
   */
  async logout (accessToken: string | undefined, refreshToken: string | undefined): Promise<{ userId: string, familyId: string } | null> {
    const now = seconds(this.#o.clock)
    const access = accessToken === undefined ? undefined : this.#o.codec.verify('access', accessToken, now)
    const refresh = access?.ok !== true && refreshToken !== undefined ? this.#o.codec.verify('refresh', refreshToken, now) : undefined
    const claims: BaseClaims | undefined = access?.ok === true ? access.claims : refresh?.ok === true ? refresh.claims : undefined
    if (claims === undefined) return null
    const family = await fromStore(async () => await this.#o.store.revokeFamily(claims.sid, now, claims.sub))
    if (family !== undefined) {
      this.#o.denylist.add(family)
    } else if (access?.ok === true) {
      const revocation = { kind: 'token', id: claims.jti, expiresAt: claims.exp } as const
      await fromStore(async () => await this.#o.store.revokeToken(revocation))
      this.#o.denylist.add(revocation)
    }
    return { userId: claims.sub, familyId: claims.sid }
  }

  /** Ends every session of the user: a "not before" on the subject plus each live family, atomically. */
  async logoutAll (session: SessionInfo): Promise<number> {
    return await this.endUserSessions(session.user.id)
  }

  /**
   * Ends every session of a user at once, on every instance, logins in flight included: call it after a
   * change of the user's credentials or rights (password, disable, deletion, a role removed) is stored, never
   * before. Answers how many live sessions it ended.
   */
  async endUserSessions (userId: string): Promise<number> {
    const now = seconds(this.#o.clock)
    const revocations = await fromStore(async () => await this.#o.store.revokeSubject(this.subjectRevocation(userId, now), now))
    this.#o.denylist.addAll(revocations)
    return revocations.length - 1
  }

  /** A "not before" revocation of the user, lasting as long as any token issued before it could. */
  subjectRevocation (userId: string, now: number): Extract<Revocation, { kind: 'subject' }> {
    const { accessTtl, refreshIdleTtl } = this.#o.lifetimes
    return { kind: 'subject', id: userId, notBefore: now, expiresAt: now + Math.max(accessTtl, refreshIdleTtl) }
  }

  /** Applies revocations recorded elsewhere in this process (the user directory) to the denylist at once. */
  applyRevocations (revocations: readonly Revocation[]): void {
    this.#o.denylist.addAll(revocations)
  }

  async listSessions (session: SessionInfo): Promise<LiveSession[]> {
    const now = seconds(this.#o.clock)
    const families = await fromStore(async () => await this.#o.store.listFamilies(session.user.id, now))
    return families
      .filter((family) => !this.#o.denylist.isFamilyRevoked(family.id))
      .map((family) => ({
        id: family.id,
        createdAt: family.authTime,
        lastRefreshedAt: family.rotatedAt,
        userAgent: family.userAgent,
        current: family.id === session.id
      }))
  }

  /** Ends one session of the user; false when the user has no such session. */
  async endSession (session: SessionInfo, familyId: string): Promise<boolean> {
    const now = seconds(this.#o.clock)
    const revocation = await fromStore(async () => await this.#o.store.revokeFamily(familyId, now, session.user.id))
    if (revocation === undefined) return false
    this.#o.denylist.add(revocation)
    return true
  }

  #isRevoked (claims: BaseClaims): boolean {
    return this.#o.denylist.isRevoked(claims.jti, claims.sid, claims.sub, claims.iat)
  }

  #info (claims: AccessClaims): SessionInfo {
    const { refreshIdleTtl, maxAge } = this.#o.lifetimes
    const absoluteExpiresAt = claims.auth_time + maxAge
    return Object.freeze({
      id: claims.sid,
      user: Object.freeze({ id: claims.sub, username: claims.username, roles: Object.freeze([...claims.roles]) as string[] }),
      tokenId: claims.jti,
      issuedAt: claims.iat,
      accessExpiresAt: claims.exp,
      // Refresh and access tokens of one pair share `iat`, so the refresh expiry follows from it.
      refreshExpiresAt: Math.min(claims.iat + refreshIdleTtl, absoluteExpiresAt),
      absoluteExpiresAt
    })
  }

  #remember (key: string, token: string, info: SessionInfo): void {
    const size = this.#o.verifiedTokenCacheSize
    if (size === 0 || !this.#seenBefore(token)) return
    // First in, first out: a hit costs one Map lookup and no bookkeeping; the oldest entry goes when full.
    // The order is kept in a ring rather than read from the Map (`keys().next()`): V8 leaves deleted Map
    // slots in place until it rehashes, so finding the first live key walked thousands of holes, about 6 µs
    // per cold request (CPU profile of `npm run bench`, cold route).
    if (this.#cacheOrder.length < size) {
      this.#cacheOrder.push(key)
    } else {
      // A token dropped earlier (expired) is no longer in the Map: deleting it again is harmless.
      this.#cache.delete(this.#cacheOrder[this.#oldest] as string)
      this.#cacheOrder[this.#oldest] = key
      this.#oldest = (this.#oldest + 1) % size
    }
    this.#cache.set(key, { token, info })
  }

  /**
   * A token enters the cache the second time it is verified, not the first. A session presents its access
   * token on every request for minutes, so it is cached from its second request on; a token seen only once
   * (a client that never comes back, a flood of distinct tokens) never takes a place in the cache, never
   * evicts a useful entry and is never kept alive for the garbage collector to move: caching every cold
   * token cost about 11 µs per cold request (`npm run bench`, cold route, cache on against off).
   * The fingerprint covers the last characters of the token, its authentication tag: a collision only
   * admits a token one verification early, and a cache hit still needs the exact token text.
   */
  #seenBefore (token: string): boolean {
    let hash = 0x811c9dc5 | 0
    for (let i = token.length - FINGERPRINT_CHARS; i < token.length; i++) hash = Math.imul(hash ^ token.charCodeAt(i), 0x01000193)
    hash |= 1
    const slot = (hash >>> 8) & (SEEN_SLOTS - 1)
    if (this.#seenOnce[slot] === hash) return true
    this.#seenOnce[slot] = hash
    return false
  }

  #issue (family: FamilyRecord, now: number): IssuedSession {
    const { issuer: iss, audience: aud } = this.#o.codec.rules
    const base = { iss, aud, sub: family.user.id, sid: family.id, iat: family.rotatedAt, auth_time: family.authTime }
    const accessClaims: AccessClaims = {
      ...base,
      jti: family.accessJti,
      exp: family.accessExpiresAt,
      username: family.user.username,
      roles: family.user.roles
    }
    const access = this.#o.codec.mint('access', accessClaims)
    const refresh = this.#o.codec.mint('refresh', { ...base, jti: family.refreshJti, exp: family.refreshExpiresAt })
    const longest = Math.max(access.length, refresh.length)
    // Tokens are ASCII, so characters are bytes; the error reports name + value bytes of the larger cookie.
    if (longest > this.#o.maxTokenLength) throw new CookieTooLargeError(longest + 4096 - this.#o.maxTokenLength)
    return {
      info: this.#info(accessClaims),
      access: { value: access, maxAge: Math.max(family.accessExpiresAt - now, 1) },
      refresh: { value: refresh, maxAge: Math.max(family.refreshExpiresAt - now, 1) }
    }
  }
}
