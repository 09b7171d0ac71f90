/**
 * `fastify-stateless-session/sqlite`: the embedded SQLite store (better-sqlite3, a native module), apart from
 * the package root so that apps which do not use it never load it.
 */
export { SqliteSessionStore } from './stores/sqlite-session-store.js'
export { openSqliteDatabase, type OpenSqliteOptions, type SqliteDatabase } from './stores/sqlite-database.js'
