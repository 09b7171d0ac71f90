/**
 * The built-in user directory of the standalone service: credentials checked against argon2id hashes, and
 * the account changes that must end sessions (password change, disable) doing so at once.
 */
import { randomBytes } from 'node:crypto'
import { seconds, type Clock } from '../common/clock.js'
import { InvalidUserInputError, UserNotFoundError } from '../common/errors.js'
import { MAX_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES } from '../tokens/claims.js'
import type { Revocation, SessionStore, SessionUser } from '../stores/session-store.js'
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, type PasswordHasher } from './password-hasher.js'
import type { UserRecord, UserStore } from './user-store.js'

const USERNAME = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,${MAX_NAME_LENGTH - 1}}$`)
const ROLE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${MAX_ROLE_LENGTH - 1}}$`)

export interface UserDirectoryOptions {
  users: UserStore
  sessions: SessionStore
  hasher: PasswordHasher
  clock: Clock
  /** How long a subject's "not before" revocation must last: the longest token lifetime, in seconds. */
  revocationLifetime: number
  /** Told about revocations this directory records, so an in-process denylist applies them at once. */
  onRevoked?: (revocations: Revocation[]) => void
}

export function toSessionUser (user: UserRecord): SessionUser {
  return { id: user.id, username: user.username, roles: [...user.roles] }
}

export class UserDirectory {
  readonly #options: UserDirectoryOptions

  constructor (options: UserDirectoryOptions) {
    this.#options = options
  }

  /**
   * The user for a correct username and password of an enabled account, else null. Unknown user, wrong
   * password and disabled account cost the same argon2 work and look the same to the caller.
   */
  async verifyCredentials (username: string, password: string): Promise<SessionUser | null> {
    const { users, hasher } = this.#options
    // Over-long passwords are refused before any work; the length says nothing about the account.
    if (password.length > MAX_PASSWORD_LENGTH) return null
    const user = await users.findByUsername(username)
    if (user === undefined) {
      await hasher.verifyNothing(password)
      return null
    }
    const matches = await hasher.verify(user.passwordHash, password)
    return matches && !user.disabled ? toSessionUser(user) : null
  }

  /** The current profile of an enabled user, else null: refresh uses it to pick up role changes. */
  async findUser (id: string): Promise<SessionUser | null> {
    const user = await this.#options.users.findById(id)
    return user === undefined || user.disabled ? null : toSessionUser(user)
  }

  async add (username: string, password: string, roles: readonly string[] = []): Promise<UserRecord> {
    checkUsername(username)
    checkPassword(password)
    checkRoles(roles)
    const now = seconds(this.#options.clock)
    const user: UserRecord = {
      id: randomBytes(16).toString('base64url'),
      username,
      passwordHash: await this.#options.hasher.hash(password),
      roles: [...new Set(roles)],
      disabled: false,
      createdAt: now,
      updatedAt: now
    }
    await this.#options.users.insert(user)
    return user
  }

  /** Sets a new password and ends every session of the user. */
  async setPassword (username: string, password: string): Promise<UserRecord> {
    checkPassword(password)
    const user = await this.#get(username)
    await this.#options.users.update(user.id, { passwordHash: await this.#options.hasher.hash(password) }, seconds(this.#options.clock))
    await this.#endSessions(user.id)
    return user
  }

  async setRoles (username: string, roles: readonly string[]): Promise<UserRecord> {
    checkRoles(roles)
    const user = await this.#get(username)
    await this.#options.users.update(user.id, { roles: [...new Set(roles)] }, seconds(this.#options.clock))
    return { ...user, roles: [...new Set(roles)] }
  }

  /** Disabling ends every session of the user; enabling lets them log in again. */
  async setDisabled (username: string, disabled: boolean): Promise<UserRecord> {
    const user = await this.#get(username)
    await this.#options.users.update(user.id, { disabled }, seconds(this.#options.clock))
    if (disabled) await this.#endSessions(user.id)
    return { ...user, disabled }
  }

  async list (): Promise<UserRecord[]> {
    return await this.#options.users.list()
  }

  async #get (username: string): Promise<UserRecord> {
    const user = await this.#options.users.findByUsername(username)
    if (user === undefined) throw new UserNotFoundError(username)
    return user
  }

  async #endSessions (userId: string): Promise<void> {
    const now = seconds(this.#options.clock)
    const revocations = await this.#options.sessions.revokeSubject(
      { kind: 'subject', id: userId, notBefore: now, expiresAt: now + this.#options.revocationLifetime },
      now
    )
    this.#options.onRevoked?.(revocations)
  }
}

function checkUsername (username: string): void {
  if (!USERNAME.test(username)) {
    throw new InvalidUserInputError(`username must be 1-${MAX_NAME_LENGTH} characters: letters, digits and . _ @ + - (starting with a letter or digit)`)
  }
}

function checkPassword (password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new InvalidUserInputError(`password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`)
  }
}

function checkRoles (roles: readonly string[]): void {
  if (roles.length > MAX_ROLES || !roles.every((role) => ROLE.test(role))) {
    throw new InvalidUserInputError(`at most ${MAX_ROLES} roles, each 1-${MAX_ROLE_LENGTH} characters: letters, digits and . _ : -`)
  }
}
