/**
 * The account, admin and second-factor routes' view of the `accounts` option and of the second factors: a
 * failure that is not one of our own refusals (the user database unreachable, closed or full; an app's
 * directory throwing) becomes 503 ERR_STORE_UNAVAILABLE, as a failing credential check already does for
 * login, instead of a 500. The cause stays on the error for the log.
 */
import { httpErrors, StoreUnavailableError } from '../../common/errors.js'

const OWN_CODES = new Set(httpErrors.map((E) => new E().code))

function isOwnRefusal (error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && OWN_CODES.has(code)
}

/**
 * `target` (the accounts; the second factors: TotpService over the user store, and that store's pending
 * logins), with each method's rejection that is not one of our refusals turned into 503. Every method of
 * these answers a promise; other properties pass through as they are.
 */
export function storeFailuresAs503<T extends object> (target: T): T {
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
