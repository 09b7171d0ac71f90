/**
 * The account, admin and second-factor routes' view of the `accounts` option and of the second factors: a failure that is not one of our own refusals
 * (the user database unreachable, closed or full; an app's directory throwing) becomes 503
 * ERR_STORE_UNAVAILABLE, as a failing credential check already does for login, instead of a 500.
 * The cause stays on the error for the log.
 */
import { httpErrors, StoreUnavailableError } from '../../common/errors.js'
import type { Accounts } from '../../users/accounts.js'

const OWN_CODES = new Set(httpErrors.map((E) => new E().code))

function isOwnRefusal (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && OWN_CODES.has(code)
}

export function storeFailuresAs503 (accounts: Accounts): Accounts {
  const guarded = (name: keyof Accounts) => async (...args: unknown[]): Promise<unknown> => {
    try {
      return await (accounts[name] as (...a: unknown[]) => Promise<unknown>).apply(accounts, args)
    } catch (cause) {
      if (isOwnRefusal(cause)) throw cause
      throw new StoreUnavailableError({ cause })
    }
  }
  return {
    changePassword: guarded('changePassword'),
    signUp: guarded('signUp'),
    listUsers: guarded('listUsers'),
    getUser: guarded('getUser'),
    createUser: guarded('createUser'),
    setDisabled: guarded('setDisabled'),
    deleteUser: guarded('deleteUser'),
    setRoles: guarded('setRoles'),
    setPassword: guarded('setPassword')
  } as Accounts
}

/**
 * The same for an object whose methods all answer promises (the second factors: TotpService over the user
 * store, and that store's pending logins): a rejection that is not one of our refusals becomes 503.
 */
export function asyncFailuresAs503<T extends object> (target: T): T {
  return new Proxy(target, {
    get (object, key) {
      const value: unknown = Reflect.get(object, key, object)
      if (typeof value !== 'function') return value
      return async (...args: unknown[]): Promise<unknown> => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(object, args)
        } catch (cause) {
          if (isOwnRefusal(cause)) throw cause
          throw new StoreUnavailableError({ cause })
        }
      }
    }
  })
}
