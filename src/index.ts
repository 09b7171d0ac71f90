/**
 * The package root (`fastify-stateless-session`): the session plugin, the in-memory store and the types an
 * embedding app needs. It loads no native or network module: the SQLite store is `./sqlite`, the Redis store
 * `./redis`, the standalone service `./service` and the browser client `./client` (docs/plugin.md).
 */
import sessionPlugin from './http/plugin.js'

export default sessionPlugin
export { sessionPlugin }
export type { SessionPluginOptions, RateLimitSettings } from './http/plugin-options.js'
export type { StatelessSessionNames, StatelessSessionApi, SessionRequestFields, SessionCsrfFields, RequireSession, RequireRecentAuth, RecentAuthOptions } from './http/plugin.js'
export type { CsrfProtection } from './http/csrf.js'
export type { CookiePolicy } from './http/cookies.js'
export type { SessionInfo, FindUser, VerifyCredentials } from './session/session-service.js'
export type { SessionStore, SessionUser, FamilyRecord, RotationRequest, RotationOutcome, RevocationBatch, RevocationFeedBatch, Revocation } from './stores/session-store.js'
export type { SessionClaims, ClaimValue } from './tokens/claims.js'
export { MemorySessionStore } from './stores/memory-session-store.js'
export * as errors from './common/errors.js'
