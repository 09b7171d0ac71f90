/**
 * What a session is and how it changes: login, access check, refresh rotation with reuse detection, logout,
 * logout everywhere, listing and ending sessions. No HTTP here (routes/auth-routes.ts maps it onto routes and
 * cookies); no I/O on the access check (the denylist is in memory).
 */
import { newId } from '../common/random-id.js'
import { seconds, type Clock } from '../common/clock.js'
import type { Denylist } from './denylist.js'
import { CookieTooLargeError, InvalidUserProfileError, StoreUnavailableError } from '../common/errors.js'
import { appClaimsProblem, copyAppClaims, MAX_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES, type AccessClaims, type AppClaims, type BaseClaims } from '../tokens/claims.js'
import type { TokenCodec, VerifyFailure } from '../tokens/token-codec.js'
import type { FamilyRecord, SessionStore, SessionUser } from '../stores/session-store.js'
import { AccessCheck, type AccessRefusal } from './access-check.js'
import { sessionInfo, type SessionInfo } from './session-info.js'
import type { AccessCounts } from './session-counters.js'
import { subjectRevocation } from './stored-sessions.js'

export type { SessionInfo } from './session-info.js'
export type { AccessRefusal } from './access-check.js'

export interface Lifetimes {
  accessTtl: number
  refreshIdleTtl: number
  maxAge: number
  grace: number
  leeway: number
}

/** A token just minted, and how many more seconds it is valid (at least 1). */
export interface IssuedToken {
  token: string
  expiresIn: number
}

/**
 * How and when the user last proved who they are: `auth_time` and `amr` of the tokens (RFC 8176 method names:
 * `pwd` a password, `otp` a one-time code). A login sets them, a re-authentication renews them, a refresh
 * carries them over.
 */
export interface Assurance {
  authTime: number
  amr: readonly string[]
}

/** Methods of a password login. */
export const PASSWORD_AMR: readonly string[] = Object.freeze(['pwd'])

export interface IssuedSession {
  info: SessionInfo
  access: IssuedToken
  refresh: IssuedToken
}

export type LoginResult =
  | { status: 'issued', session: IssuedSession }
  /**
   * `credentials`: wrong or unknown (or a disabled account). `revoked`: they were right when checked, but the
   * user's sessions were ended (a password change, disable, ...) before the session was recorded, so the
   * credentials checked may no longer be valid. `too-slow`: the check took longer than a subject revocation
   * is guaranteed to be remembered (the access token lifetime), so that cannot be ruled out.
   */
  | { status: 'refused', reason: 'credentials' | 'revoked' | 'too-slow' }

/**
 * The password was right, but the user has a second factor: no session yet. The caller keeps this (a pending
 * login) until the second step passes, then calls `finishLogin` with it: the mark still catches a credential
 * change between the steps.
 */
export interface SecondFactorHold {
  status: 'second-factor'
  user: SessionUser
  mark: string
  startedAt: number
}

export type RefreshResult =
  | { status: 'issued', session: IssuedSession, replayed: boolean, generation: number }
  | { status: 'invalid', reason: VerifyFailure | 'revoked' | 'user-unavailable' | 'session-expired' | 'rejected', userId?: string, familyId?: string }
  | { status: 'reuse', userId: string, familyId: string }

export interface LiveSession {
  id: string
  /** Login time. */
  createdAt: number
  /** The last refresh (or the login): when the client was last seen by the store. */
  lastRefreshedAt: number
  userAgent: string | null
  /** The client's address at the last login or refresh, as the service saw it (after its trusted-proxy rules). */
  clientAddress: string | null
  current: boolean
}

/** Who is asking, as the HTTP layer sees it: recorded with the session, shown in session lists. */
export interface ClientInfo {
  userAgent: string | null
  address: string | null
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
  /** True while the revocation view cannot vouch for a session (a shared store out of reach too long). */
  isStale?: () => boolean
  /** Longest token that fits a cookie: MAX_COOKIE_BYTES minus the longest cookie name. */
  maxTokenLength: number
  /** Where access checks are counted (session-counters.ts). */
  accessCounts?: AccessCounts
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
  const copy: SessionUser = { id: user.id, username: user.username, roles: [...user.roles] }
  if (user.claims === undefined) return copy
  const problem = appClaimsProblem(user.claims)
  if (problem !== undefined) throw new InvalidUserProfileError(`claims ${problem}`)
  const claims = copyAppClaims(user.claims)
  // Checked just above; its type is the app's SessionClaims.
  if (Object.keys(claims).length > 0) copy.claims = claims as unknown as AppClaims
  return copy
}

async function fromStore<T> (operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (cause) {
    throw new StoreUnavailableError({ cause })
  }
}

export class SessionService {
  readonly #o: SessionServiceOptions
  readonly #access: AccessCheck

  constructor (options: SessionServiceOptions) {
    this.#o = options
    this.#access = new AccessCheck({
      codec: options.codec,
      denylist: options.denylist,
      clock: options.clock,
      lifetimes: options.lifetimes,
      verifiedTokenCacheSize: options.verifiedTokenCacheSize,
      ...(options.isStale === undefined ? {} : { isStale: options.isStale }),
      ...(options.accessCounts === undefined ? {} : { counts: options.accessCounts })
    })
  }

  /** True for an error of the store's backend that means "cannot serve right now" (SessionStore.isUnavailableError). */
  readonly isStoreUnavailable = (error: unknown): boolean => this.#o.store.isUnavailableError?.(error) ?? false

  /** The session of an access token, or why there is none (access-check.ts decides). No I/O. */
  authenticate (token: string): SessionInfo | AccessRefusal {
    return this.#access.check(token)
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
  async login (username: string, password: string, client: ClientInfo): Promise<LoginResult>
  /** With `needsSecondFactor`: valid credentials of a user it answers true for give a hold, not a session. */
  async login (username: string, password: string, client: ClientInfo, needsSecondFactor: ((userId: string) => Promise<boolean>) | undefined): Promise<LoginResult | SecondFactorHold>
  async login (username: string, password: string, client: ClientInfo, needsSecondFactor?: (userId: string) => Promise<boolean>): Promise<LoginResult | SecondFactorHold> {
    const mark = await fromStore(async () => await this.#o.store.revocationMark())
    const startedAt = seconds(this.#o.clock)
    const found = await fromStore(async () => await this.#o.verifyCredentials(username, password))
    if (found === null) return { status: 'refused', reason: 'credentials' }
    const user = sessionUser(found)
    if (needsSecondFactor !== undefined && await fromStore(async () => await needsSecondFactor(user.id))) return { status: 'second-factor', user, mark, startedAt }
    return await this.#open(user, client, mark, startedAt, PASSWORD_AMR)
  }

  /**
   * True when `password` is the current password of the session's user (the app's `verifyCredentials`, by
   * username, must answer that same user): a re-authentication's first proof.
   */
  async checkPassword (session: SessionInfo, password: string): Promise<boolean> {
    const found = await fromStore(async () => await this.#o.verifyCredentials(session.user.username, password))
    return found !== null && found.id === session.user.id
  }

  /**
   * A new session for a user the caller has just authenticated some other way: after a password change (the
   * device that changed it keeps a session) or a sign-up. The mark is taken now, so a change of the user
   * that ends their sessions from here on still refuses it.
   */
  async startSession (user: SessionUser, client: ClientInfo, amr: readonly string[] = PASSWORD_AMR): Promise<LoginResult> {
    const mark = await fromStore(async () => await this.#o.store.revocationMark())
    return await this.#open(sessionUser(user), client, mark, seconds(this.#o.clock), amr)
  }

  /**
   * The second step of a login held for a second factor: opens the session, unless a credential change
   * ended the user's sessions since the password was checked (the hold's mark), or the steps took longer than
   * an access token lifetime (`too-slow`).
   */
  async finishLogin (hold: Omit<SecondFactorHold, 'status'>, client: ClientInfo, amr: readonly string[]): Promise<LoginResult> {
    return await this.#open(sessionUser(hold.user), client, hold.mark, hold.startedAt, amr)
  }

  async #open (user: SessionUser, client: ClientInfo, mark: string, startedAt: number, amr: readonly string[]): Promise<LoginResult> {
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
      userAgent: client.userAgent,
      clientAddress: client.address,
      revokedAt: null
    }
    // Tokens are minted (and their size checked) before anything is recorded.
    const issued = this.#issue(family, now, { authTime: now, amr })
    const created = await fromStore(async () => await this.#o.store.createFamily(family, mark))
    return created ? { status: 'issued', session: issued } : { status: 'refused', reason: 'revoked' }
  }

  /**
   * Rotates a refresh token (RFC 9700 §4.14.2). The current token gets a new pair; its immediate
   * predecessor, inside the grace window, gets that same pair again (parallel tabs); any other known token
   * of the family is reuse, which revokes the whole family at once.
   */
  async refresh (token: string, clientAddress?: string): Promise<RefreshResult> {
    return await this.#rotate(token, clientAddress, undefined)
  }

  /**
   * Re-authentication (POST <prefix>/reauth): the caller has just checked the user's proofs (`amr`); the
   * session's refresh token is rotated as by a refresh, and the new pair carries `auth_time` = now and `amr`.
   * Same session (family), no new login. The refresh token must belong to `session`.
   */
  async reauthenticate (session: SessionInfo, refreshToken: string, amr: readonly string[], clientAddress?: string): Promise<RefreshResult> {
    return await this.#rotate(refreshToken, clientAddress, { session, amr })
  }

  async #rotate (token: string, clientAddress: string | undefined, reauth: { session: SessionInfo, amr: readonly string[] } | undefined): Promise<RefreshResult> {
    const now = seconds(this.#o.clock)
    const verified = this.#o.codec.verify('refresh', token, now)
    if (!verified.ok) return { status: 'invalid', reason: verified.reason }
    const claims = verified.claims
    const who = { userId: claims.sub, familyId: claims.sid }
    if (reauth !== undefined && (claims.sid !== reauth.session.id || claims.sub !== reauth.session.user.id)) return { status: 'invalid', reason: 'rejected', ...who }
    if (this.#isRevoked(claims)) return { status: 'invalid', reason: 'revoked', ...who }
    const absolute = claims.login_time + this.#o.lifetimes.maxAge
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
        ...(user === undefined ? {} : { user }),
        ...(clientAddress === undefined ? {} : { clientAddress })
      }
    }))
    switch (outcome.outcome) {
      case 'rotated':
      case 'replayed':
        return {
          status: 'issued',
          session: this.#issue(outcome.family, now, reauth === undefined ? { authTime: claims.auth_time, amr: claims.amr } : { authTime: now, amr: reauth.amr }),
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
    const revocations = await fromStore(async () => await this.#o.store.revokeSubject(subjectRevocation(userId, now, this.#o.lifetimes), now))
    this.#o.denylist.addAll(revocations)
    return revocations.length - 1
  }

  async listSessions (session: SessionInfo): Promise<LiveSession[]> {
    return await this.listUserSessions(session.user.id, session.id)
  }

  /** The live sessions of any user (an admin's view); `currentId` marks the caller's own. */
  async listUserSessions (userId: string, currentId?: string): Promise<LiveSession[]> {
    const now = seconds(this.#o.clock)
    const families = await fromStore(async () => await this.#o.store.listFamilies(userId, now))
    return families
      .filter((family) => !this.#o.denylist.isFamilyRevoked(family.id))
      .map((family) => ({
        id: family.id,
        createdAt: family.authTime,
        lastRefreshedAt: family.rotatedAt,
        userAgent: family.userAgent,
        clientAddress: family.clientAddress,
        current: family.id === currentId
      }))
  }

  /** Ends one session of the user; false when the user has no such session. */
  async endSession (session: SessionInfo, familyId: string): Promise<boolean> {
    return await this.endUserSession(session.user.id, familyId)
  }

  /** Ends one session of any user (an admin's action); false when that user has no such session. */
  async endUserSession (userId: string, familyId: string): Promise<boolean> {
    const now = seconds(this.#o.clock)
    const revocation = await fromStore(async () => await this.#o.store.revokeFamily(familyId, now, userId))
    if (revocation === undefined) return false
    this.#o.denylist.add(revocation)
    return true
  }

  /**
   * Ends every other live session of the user and keeps the current one; answers how many ended. A login
   * finishing meanwhile is a new session, not one of those listed, and lives on.
   */
  async endOtherSessions (session: SessionInfo): Promise<number> {
    let ended = 0
    for (const other of await this.listUserSessions(session.user.id, session.id)) {
      if (!other.current && await this.endUserSession(session.user.id, other.id)) ended++
    }
    return ended
  }

  #isRevoked (claims: BaseClaims): boolean {
    return this.#o.denylist.isRevoked(claims.jti, claims.sid, claims.sub, claims.iat)
  }

  #issue (family: FamilyRecord, now: number, assurance: Assurance): IssuedSession {
    const { issuer: iss, audience: aud } = this.#o.codec.rules
    const base = {
      iss,
      aud,
      sub: family.user.id,
      sid: family.id,
      iat: family.rotatedAt,
      // A replayed pair (the predecessor inside the grace window) keeps the pair's `iat`, which may be earlier
      // than a re-authentication happening now: `auth_time` never follows `iat`, and an older one is the safe side.
      auth_time: Math.max(family.authTime, Math.min(assurance.authTime, family.rotatedAt)),
      login_time: family.authTime,
      amr: [...assurance.amr]
    }
    const accessClaims: AccessClaims = {
      ...base,
      jti: family.accessJti,
      exp: family.accessExpiresAt,
      username: family.user.username,
      roles: family.user.roles,
      ...(family.user.claims === undefined ? {} : { claims: copyAppClaims(family.user.claims) })
    }
    const access = this.#o.codec.mint('access', accessClaims)
    const refresh = this.#o.codec.mint('refresh', { ...base, jti: family.refreshJti, exp: family.refreshExpiresAt })
    const longest = Math.max(access.length, refresh.length)
    // Tokens are ASCII, so characters are bytes; the error reports name + value bytes of the larger cookie.
    if (longest > this.#o.maxTokenLength) throw new CookieTooLargeError(longest + 4096 - this.#o.maxTokenLength)
    return {
      info: sessionInfo(accessClaims, this.#o.lifetimes),
      access: { token: access, expiresIn: Math.max(family.accessExpiresAt - now, 1) },
      refresh: { token: refresh, expiresIn: Math.max(family.refreshExpiresAt - now, 1) }
    }
  }
}
