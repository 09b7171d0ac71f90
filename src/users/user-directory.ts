/**
 * The built-in user directory of the standalone service: credentials checked against argon2id hashes, the
 * password policy (password-policy.ts), and the account changes that must end sessions (a new password,
 * disable, deletion, a role taken away) doing so at once, after the change is stored (see accounts.ts for
 * why that order). It implements `Accounts`, the interface of the account and admin routes; the users CLI
 * uses it by username.
 */
import { randomBytes } from 'node:crypto'
import { seconds, type Clock } from '../common/clock.js'
import { InvalidUserInputError, LastAdminError, PasswordPolicyError, UserNotFoundError } from '../common/errors.js'
import { MAX_NAME_LENGTH, MAX_ROLE_LENGTH, MAX_ROLES } from '../tokens/claims.js'
import type { SessionUser } from '../stores/session-store.js'
import type { AccountPage, AccountQuery, Accounts, AccountView, PasswordChange } from './accounts.js'
import { MAX_PASSWORD_LENGTH, type PasswordHasher } from './password-hasher.js'
import { describePasswordProblem, passwordProblem } from './password-policy.js'
import type { ChangeOutcome, RoleGuard, UserPatch, UserRecord, UserStore } from './user-store.js'

const USERNAME = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,${MAX_NAME_LENGTH - 1}}$`)
const ROLE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${MAX_ROLE_LENGTH - 1}}$`)

export interface UserDirectoryOptions {
  users: UserStore
  hasher: PasswordHasher
  clock: Clock
  /**
   * Ends every session of a user, on every instance (the session plugin's `app.sessions.endUserSessions`).
   * Called after each change that must end them has been stored.
   */
  endSessions: (userId: string) => Promise<void>
}

export function toSessionUser (user: Pick<UserRecord, 'id' | 'username' | 'roles'>): SessionUser {
  return { id: user.id, username: user.username, roles: [...user.roles] }
}

export function toAccountView (user: UserRecord): AccountView {
  return { id: user.id, username: user.username, roles: [...user.roles], disabled: user.disabled, createdAt: user.createdAt, updatedAt: user.updatedAt }
}

export class UserDirectory implements Accounts {
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
    await checkPassword(password, username)
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
  async setPasswordOf (username: string, password: string): Promise<UserRecord> {
    return await this.#byName(username, async (user) => await this.setPassword(user.id, password))
  }

  /** Sets the roles; taking one away ends every session of the user. */
  async setRolesOf (username: string, roles: readonly string[]): Promise<UserRecord> {
    return await this.#byName(username, async (user) => await this.setRoles(user.id, roles))
  }

  /** Disabling ends every session of the user; enabling lets them log in again. */
  async setDisabledOf (username: string, disabled: boolean): Promise<UserRecord> {
    return await this.#byName(username, async (user) => await this.setDisabled(user.id, disabled))
  }

  /** Deletes the user and ends every session of theirs. */
  async deleteByName (username: string): Promise<UserRecord> {
    return await this.#byName(username, async (user) => await this.deleteUser(user.id))
  }

  /** The user of that name, or UserNotFoundError. */
  async get (username: string): Promise<UserRecord> {
    const user = await this.#options.users.findByUsername(username)
    if (user === undefined) throw new UserNotFoundError(`named ${JSON.stringify(username)}`)
    return user
  }

  async list (): Promise<UserRecord[]> {
    return await this.#options.users.list()
  }

  /** Second factors live beside the users (Accounts.secondFactorStore). */
  get secondFactorStore (): UserStore {
    return this.#options.users
  }

  /**
   * Removes the second factor of a user (recovery codes included) and ends every session of theirs: the users
   * CLI's `mfa reset`, for a user who lost their device and their codes. False when they had none (sessions
   * are ended all the same).
   */
  async resetSecondFactorOf (username: string): Promise<boolean> {
    const user = await this.get(username)
    const removed = await this.#options.users.removeSecondFactor(user.id)
    await this.#options.endSessions(user.id)
    return removed
  }

  // --- Accounts: by id, for the account and admin routes ---

  async changePassword (userId: string, currentPassword: string, newPassword: string): Promise<PasswordChange> {
    const { users, hasher } = this.#options
    const user = await users.findById(userId)
    // A disabled or deleted user has no session left to ask with; answered like a wrong password all the same.
    if (user === undefined || user.disabled || currentPassword.length > MAX_PASSWORD_LENGTH || !await hasher.verify(user.passwordHash, currentPassword)) {
      return { status: 'wrong-password' }
    }
    await checkPassword(newPassword, user.username)
    await this.#change(user, { passwordHash: await hasher.hash(newPassword) }, true)
    return { status: 'changed', user: toSessionUser(user) }
  }

  async signUp (username: string, password: string): Promise<SessionUser> {
    return toSessionUser(await this.add(username, password))
  }

  async listUsers (query: AccountQuery): Promise<AccountPage> {
    const page = await this.#options.users.page(query)
    return { users: page.users.map(toAccountView), total: page.total }
  }

  async getUser (id: string): Promise<AccountView | undefined> {
    const user = await this.#options.users.findById(id)
    return user === undefined ? undefined : toAccountView(user)
  }

  async createUser (username: string, password: string, roles: readonly string[]): Promise<AccountView> {
    return toAccountView(await this.add(username, password, roles))
  }

  async setDisabled (id: string, disabled: boolean, guard?: RoleGuard): Promise<UserRecord> {
    const user = await this.#byId(id)
    return await this.#change(user, { disabled }, disabled, guard)
  }

  async deleteUser (id: string, guard?: RoleGuard): Promise<UserRecord> {
    const user = await this.#byId(id)
    this.#outcome(await this.#options.users.delete(id, guard), user, guard)
    await this.#options.endSessions(id)
    return user
  }

  async setRoles (id: string, roles: readonly string[], guard?: RoleGuard): Promise<UserRecord> {
    checkRoles(roles)
    const user = await this.#byId(id)
    const next = [...new Set(roles)]
    // A role taken away must leave the tokens at once (they carry the roles); one added waits for the next refresh.
    const removed = user.roles.some((role) => !next.includes(role))
    return await this.#change(user, { roles: next }, removed, guard)
  }

  async setPassword (id: string, password: string): Promise<UserRecord> {
    const user = await this.#byId(id)
    await checkPassword(password, user.username)
    return await this.#change(user, { passwordHash: await this.#options.hasher.hash(password) }, true)
  }

  async #change (user: UserRecord, patch: UserPatch, endSessions: boolean, guard?: RoleGuard): Promise<UserRecord> {
    const now = seconds(this.#options.clock)
    this.#outcome(await this.#options.users.update(user.id, patch, now, guard), user, guard)
    // After the change is stored, never before: a login in flight that read the old state is then refused.
    if (endSessions) await this.#options.endSessions(user.id)
    return { ...user, ...patch, updatedAt: now }
  }

  #outcome (outcome: ChangeOutcome, user: UserRecord, guard: RoleGuard | undefined): void {
    if (outcome === 'not-found') throw new UserNotFoundError(`with id ${user.id}`)
    if (outcome === 'last-holder') throw new LastAdminError(guard?.keepRole ?? '')
  }

  async #byId (id: string): Promise<UserRecord> {
    const user = await this.#options.users.findById(id)
    if (user === undefined) throw new UserNotFoundError(`with id ${id}`)
    return user
  }

  async #byName (username: string, action: (user: UserRecord) => Promise<UserRecord>): Promise<UserRecord> {
    return await action(await this.get(username))
  }
}

function checkUsername (username: string): void {
  if (!USERNAME.test(username)) {
    throw new InvalidUserInputError(`username must be 1-${MAX_NAME_LENGTH} characters: letters, digits and . _ @ + - (starting with a letter or digit)`)
  }
}

/** The password policy (password-policy.ts), as an error saying which rule. */
export async function checkPassword (password: string, username?: string): Promise<void> {
  const problem = await passwordProblem(password, username)
  if (problem !== undefined) throw new PasswordPolicyError(describePasswordProblem(problem))
}

function checkRoles (roles: readonly string[]): void {
  if (roles.length > MAX_ROLES || !roles.every((role) => ROLE.test(role))) {
    throw new InvalidUserInputError(`at most ${MAX_ROLES} roles, each 1-${MAX_ROLE_LENGTH} characters: letters, digits and . _ : -`)
  }
}
