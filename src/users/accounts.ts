/**
 * What the account and admin routes need from a user directory. The built-in UserDirectory implements it (the
 * standalone service passes it to the plugin as `accounts`); an app with its own users may implement it too,
 * or leave the option out and get the session routes only.
 *
 * The rule every implementation must keep: a change that must end the user's sessions (a new password,
 * disable, deletion, a role taken away) ends them AFTER the change is stored, with
 * `app.sessions.endUserSessions(id)`. In that order, a login in flight that read the old credentials cannot
 * keep a session (docs/plugin.md, "When your users' credentials change").
 *
 * Errors: the implementation throws the errors of src/common/errors.ts (PasswordPolicyError,
 * InvalidUserInputError, UserExistsError, UserNotFoundError, LastAdminError); the routes answer with them.
 */
import type { SessionUser } from '../stores/session-store.js'
import type { RoleGuard, SecondFactorStore } from './user-store.js'

/** A user as the admin routes show it: never a password hash. Times are Unix seconds. */
export interface AccountView {
  id: string
  username: string
  roles: string[]
  disabled: boolean
  createdAt: number
  updatedAt: number
}

export interface AccountQuery {
  /** Only usernames containing this text (ignoring ASCII case). */
  search?: string
  offset: number
  limit: number
}

export interface AccountPage {
  users: AccountView[]
  total: number
}

export type PasswordChange =
  | { status: 'changed', user: SessionUser }
  /** The current password given was wrong: nothing changed. */
  | { status: 'wrong-password' }

export interface Accounts {
  /**
   * The signed-in user changes their own password: checks `currentPassword`, applies the password policy to
   * `newPassword`, stores it and ends every session of the user. The route then opens a new session for the
   * device that asked. A `newPassword` equal to `currentPassword` never gets here: the route verifies the
   * current password itself and answers ERR_PASSWORD_UNCHANGED.
   */
  changePassword: (userId: string, currentPassword: string, newPassword: string) => Promise<PasswordChange>
  /** Creates an account with no roles (self-service sign-up), under the password policy. */
  signUp: (username: string, password: string) => Promise<SessionUser>
  listUsers: (query: AccountQuery) => Promise<AccountPage>
  getUser: (id: string) => Promise<AccountView | undefined>
  createUser: (username: string, password: string, roles: readonly string[]) => Promise<AccountView>
  /** Disabling ends every session of the user. */
  setDisabled: (id: string, disabled: boolean, guard?: RoleGuard) => Promise<AccountView>
  /** Ends every session of the user. */
  deleteUser: (id: string, guard?: RoleGuard) => Promise<AccountView>
  /** Taking a role away ends every session of the user; adding one reaches their tokens at the next refresh. */
  setRoles: (id: string, roles: readonly string[], guard?: RoleGuard) => Promise<AccountView>
  /** An admin sets a user's password: ends every session of the user. */
  setPassword: (id: string, password: string) => Promise<AccountView>
  /**
   * Optional: where second factors live (the built-in directory's user store). With it, the plugin adds TOTP
   * enrolment, the two-step login and the second factor at re-authentication (docs/http-api.md, "Second factor").
   */
  readonly secondFactorStore?: SecondFactorStore
}
