/**
 * Every error code the service can answer with lives here, so docs/errors.md can be checked against it.
 * Each HTTP error body is `{ statusCode, code, error, message }` (see `errorBody`).
 */
import createError, { type FastifyErrorConstructor } from '@fastify/error'
import { STATUS_CODES } from 'node:http'

/** One body for every token or session failure (missing, malformed, tampered, expired, revoked, reused). */
export const SessionInvalidError = createError('ERR_SESSION_INVALID', 'No valid session', 401)
/** Unknown user, wrong password and disabled user are deliberately indistinguishable. */
export const InvalidCredentialsError = createError('ERR_INVALID_CREDENTIALS', 'Invalid username or password', 401)
export const StoreUnavailableError = createError('ERR_STORE_UNAVAILABLE', 'The session store is unavailable; try again shortly', 503)
/**
 * The in-memory revocation view has not been confirmed against a shared store (Redis) for longer than
 * REDIS_MAX_STALENESS_SECONDS: a session cannot be trusted, so it is neither accepted nor refused (fail closed).
 */
export const SessionStoreStaleError = createError('ERR_SESSION_STORE_STALE', 'Sessions cannot be checked right now: the revocation list is out of date; try again shortly', 503)
export const SessionNotFoundError = createError('ERR_SESSION_NOT_FOUND', 'No such session', 404)
export const ValidationError = createError('ERR_VALIDATION', '%s', 400)
export const MalformedJsonError = createError('ERR_MALFORMED_JSON', 'The request body is not valid JSON', 400)
export const UnsupportedMediaTypeError = createError('ERR_UNSUPPORTED_MEDIA_TYPE', 'Request bodies must be application/json', 415)
export const BodyTooLargeError = createError('ERR_BODY_TOO_LARGE', 'The request body is too large', 413)
/** No route for the method and path. The message repeats neither: they are the client's text. */
export const RouteNotFoundError = createError('ERR_ROUTE_NOT_FOUND', 'Route not found', 404)
/**
 * Answers Fastify's router or Node's HTTP parser would otherwise give in their own shape, before any route
 * runs (src/http/framework-errors.ts). None names the path or echoes the request.
 */
/** A path parameter (a session or user id) over Fastify's maxParamLength, 100 characters. */
export const PathTooLongError = createError('ERR_PATH_TOO_LONG', 'A path parameter is longer than 100 characters', 414)
/** The path has malformed percent-encoding (`%zz`, a truncated UTF-8 sequence). */
export const MalformedUrlError = createError('ERR_MALFORMED_URL', 'The request path is not valid: malformed percent-encoding', 400)
/** The request line and headers together exceed Node's limit (16 KiB unless --max-http-header-size says otherwise). */
export const HeadersTooLargeError = createError('ERR_HEADERS_TOO_LARGE', 'The request headers are too large', 431)
/** The request line and headers did not arrive within Node's headersTimeout (60 seconds by default). */
export const RequestTimeoutError = createError('ERR_REQUEST_TIMEOUT', 'The request took too long to arrive', 408)
/** Not parsable as HTTP/1.1 (a header line without a colon, an invalid method or chunk size...). */
export const MalformedRequestError = createError('ERR_MALFORMED_REQUEST', 'The request is not valid HTTP', 400)
/** A browser request from another site (Fetch Metadata or Origin) to a state-changing route: nothing happened. */
export const CsrfRejectedError = createError('ERR_CSRF_REJECTED', 'Cross-site request refused', 403)
/** Too many failed logins for this account or client, or too many refreshes: `Retry-After` says when to retry. */
export const RateLimitedError = createError('ERR_RATE_LIMITED', 'Too many attempts; retry later', 429)
/** The session would need a cookie over the 4096-byte browser limit: the user profile is too large. */
export const CookieTooLargeError = createError('ERR_COOKIE_TOO_LARGE', 'The session does not fit in a cookie (%s bytes, limit 4096); reduce the user profile (its roles or claims)', 500)
/** The app's `verifyCredentials` or `findUser` returned a user that cannot go into a token. */
export const InvalidUserProfileError = createError('ERR_INVALID_USER_PROFILE', 'The user profile cannot be put in a session: %s', 500)
export const InternalError = createError('ERR_INTERNAL', 'Internal server error', 500)
/** Boot-time failure: an option or environment variable is missing or wrong. Never an HTTP answer. */
export const InvalidOptionError = createError('ERR_INVALID_OPTION', '%s')
/** Boot-time failure: the configured store (Redis) cannot be reached. */
export const StoreConnectError = createError('ERR_STORE_CONNECT', 'Cannot connect to the session store at %s: %s')
/**
 * Internal: the revocation log a cursor points into is gone (Redis lost its data). The revocation sync reloads;
 * never an HTTP answer.
 */
export const RevocationLogLostError = createError('ERR_REVOCATION_LOG_LOST', 'The revocation log was lost: %s')
/** User directory errors (the users CLI, sign-up and the admin routes). */
export const UserExistsError = createError('ERR_USER_EXISTS', 'A user named "%s" already exists', 409)
/** The argument says which user: `named "alice"` or `with id ...`. */
export const UserNotFoundError = createError('ERR_USER_NOT_FOUND', 'No user %s', 404)
export const InvalidUserInputError = createError('ERR_INVALID_USER_INPUT', '%s', 400)
/** A new password outside the password policy (docs/security.md, "Passwords"); the message says which rule. */
export const PasswordPolicyError = createError('ERR_PASSWORD_POLICY', 'Password refused: %s', 400)
/** A password change whose new password is the current one (checked once the current one is verified). */
export const PasswordUnchangedError = createError('ERR_PASSWORD_UNCHANGED', 'The new password is the current one: choose another', 400)
/** The current password given with a password change is wrong: nothing changed. */
export const WrongPasswordError = createError('ERR_WRONG_PASSWORD', 'The current password is not correct', 403)
/** A signed-in user without the admin role on an admin route. */
export const ForbiddenError = createError('ERR_FORBIDDEN', 'This needs the %s role', 403)
/** The change would leave no enabled user holding the admin role. */
export const LastAdminError = createError('ERR_LAST_ADMIN', 'Refused: this would leave no enabled user with the %s role', 409)
/** An admin disabling, deleting or demoting their own account over HTTP (by accident, most likely). */
export const AdminSelfChangeError = createError('ERR_ADMIN_SELF_CHANGE', 'An admin cannot %s their own account here; ask another admin, or use the users CLI on the server', 409)
/** A forward-auth policy in the proxy's auth URL that cannot be understood (`?role=`): refused, never ignored. */
export const ForwardAuthPolicyError = createError('ERR_FORWARD_AUTH_POLICY', 'Invalid forward-auth policy: %s', 400)
/** A trusted proxy described the original request in a way that cannot be read (a bad `X-Original-URL`, say). */
export const ForwardAuthRequestError = createError('ERR_FORWARD_AUTH_REQUEST', 'The original request cannot be worked out: %s', 400)
/**
 * The session is valid but its user last proved who they are longer ago than the route allows (RFC 9470
 * `max_age`): re-authenticate with POST <prefix>/reauth, then retry. Sent with `WWW-Authenticate`.
 */
export const ReauthRequiredError = createError('ERR_REAUTH_REQUIRED', 'This needs a recent authentication: re-authenticate, then retry', 401)
/** The session's authentication lacks a method the route requires (RFC 9470 `acr_values`): re-authenticate with a second factor. */
export const StrongerAuthRequiredError = createError('ERR_STRONGER_AUTH_REQUIRED', 'This needs an authentication with a second factor: re-authenticate with it, then retry', 401)
/** A re-authentication (or the second step of a login) of a user with a second factor, without its code. */
export const SecondFactorRequiredError = createError('ERR_SECOND_FACTOR_REQUIRED', 'This account has a second factor: send its code too', 401)
/** The second step of a login without a live pending-login cookie (missing, expired, already used, or forged). */
export const PendingLoginInvalidError = createError('ERR_PENDING_LOGIN_INVALID', 'No login is waiting for a second factor; log in again', 401)
/** A wrong, already used (replayed) or malformed one-time code or recovery code. */
export const InvalidSecondFactorError = createError('ERR_INVALID_SECOND_FACTOR', 'The code is not valid', 401)
/** Enrolment while a confirmed factor exists. */
export const SecondFactorExistsError = createError('ERR_SECOND_FACTOR_EXISTS', 'A second factor is already enrolled; remove it first', 409)
/** Confirming, regenerating codes or removing without a factor (or an enrolment to confirm). */
export const NoSecondFactorError = createError('ERR_NO_SECOND_FACTOR', 'There is no %s', 404)

/** All codes an HTTP client can receive, for the docs check. */
export const httpErrors: readonly FastifyErrorConstructor[] = [
  SessionInvalidError,
  InvalidCredentialsError,
  StoreUnavailableError,
  SessionStoreStaleError,
  SessionNotFoundError,
  ValidationError,
  MalformedJsonError,
  UnsupportedMediaTypeError,
  BodyTooLargeError,
  RouteNotFoundError,
  PathTooLongError,
  MalformedUrlError,
  HeadersTooLargeError,
  RequestTimeoutError,
  MalformedRequestError,
  CsrfRejectedError,
  RateLimitedError,
  CookieTooLargeError,
  InvalidUserProfileError,
  InternalError,
  UserExistsError,
  UserNotFoundError,
  InvalidUserInputError,
  PasswordPolicyError,
  PasswordUnchangedError,
  WrongPasswordError,
  ForbiddenError,
  LastAdminError,
  AdminSelfChangeError,
  ForwardAuthPolicyError,
  ForwardAuthRequestError,
  ReauthRequiredError,
  StrongerAuthRequiredError,
  SecondFactorRequiredError,
  PendingLoginInvalidError,
  InvalidSecondFactorError,
  SecondFactorExistsError,
  NoSecondFactorError
]

/** All codes, HTTP and boot-time. */
export const allErrors: readonly FastifyErrorConstructor[] = [
  ...httpErrors,
  InvalidOptionError,
  StoreConnectError,
  RevocationLogLostError
]

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

/** The wire form of an error: the same four fields everywhere. */
export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  // Every status we answer with is a standard one, so it has a reason phrase.
  return { statusCode, code, error: STATUS_CODES[statusCode] as string, message }
}

/** The one 401 body every token failure answers with (built once: identical bytes, no oracle). */
export const SESSION_INVALID_BODY: Readonly<ErrorBody> = Object.freeze(
  errorBody(401, 'ERR_SESSION_INVALID', 'No valid session')
)
