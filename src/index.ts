/**
 * Public surface of the package: the session plugin, the stores it can use, and the pieces an embedding
 * app may want (password hashing, the standalone app factory).
 */
import sessionPlugin from './plugin.js'

export default sessionPlugin
export { sessionPlugin }
export type { SessionPluginOptions } from './plugin-options.js'
export type { SessionInfo, FindUser, VerifyCredentials } from './session-service.js'
export type { SessionStore, SessionUser, FamilyRecord, RotationRequest, RotationOutcome, RevocationBatch, RevocationFeedBatch } from './stores/session-store.js'
export type { Revocation } from './denylist.js'
export { MemorySessionStore } from './stores/memory-session-store.js'
export { SqliteSessionStore } from './stores/sqlite-session-store.js'
export { openSqliteDatabase } from './stores/sqlite-database.js'
export { RedisSessionStore, type RedisSessionStoreOptions } from './stores/redis-session-store.js'
export { connectRedis, closeRedis, type RedisClientConfig } from './stores/redis-client.js'
export { PasswordHasher, OWASP_ARGON2ID } from './users/password-hasher.js'
export { buildApp, type BuildAppOptions } from './app.js'
export * as errors from './errors.js'
