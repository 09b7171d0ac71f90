/**
 * The start-up failures that come from a setting or the installation, said in one line naming what to change
 * (server.ts prints them and exits 1). Anything else is a bug and keeps its stack trace.
 */

interface StartupError { code?: string, syscall?: string, message?: string }

/**
 * One line for better-sqlite3 without its native module (src/stores/sqlite-database.ts,
 * SqliteNativeModuleError), which stops the SQLite store and the backup CLI alike; undefined for any other
 * error. `otherStore`: whether STORE=redis is a way out (the service and the users CLI), not for backups.
 */
export function sqliteModuleFailure (error: unknown, otherStore: boolean): string | undefined {
  if ((error as StartupError | undefined)?.code !== 'ERR_SQLITE_NATIVE_MODULE') return undefined
  return `better-sqlite3's native module is not built (installed with --ignore-scripts?): run "npm rebuild better-sqlite3"${otherStore ? ', or set STORE=redis' : ''}`
}

/** One line (or one per wrong variable) for a failure caused by the configuration; undefined otherwise. */
export function startupFailure (error: unknown, env: Record<string, string | undefined>): string | undefined {
  const e = (typeof error === 'object' && error !== null ? error : {}) as StartupError
  const message = e.message ?? ''
  if (e.code === 'ERR_INVALID_OPTION') return message
  if (e.code === 'ERR_SQLITE_NATIVE_MODULE') return sqliteModuleFailure(error, true)
  if (e.code === 'ERR_STORE_CONNECT') {
    const variable = / at cluster /.test(message) ? 'REDIS_CLUSTER_NODES' : / at sentinel /.test(message) ? 'REDIS_SENTINELS and REDIS_SENTINEL_NAME' : 'REDIS_URL'
    return `${message} (check ${variable})`
  }
  const host = env['HOST'] ?? 'localhost'
  const port = env['PORT'] ?? '3000'
  // `bind`: the same failure as a node:cluster worker meets it (the primary binds the port on its behalf).
  if (e.syscall === 'listen' || e.syscall === 'bind' || e.syscall === 'getaddrinfo') {
    switch (e.code) {
      case 'EADDRINUSE':
        return `PORT ${port} is already in use on ${host}: stop the other process or choose another PORT`
      case 'EACCES':
        return `PORT ${port} needs more privileges than this process has: choose a PORT of 1024 or more, or put a proxy in front`
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `HOST ${JSON.stringify(host)} is not an address of this machine: use localhost, 0.0.0.0, or one of its addresses`
    }
  }
  return undefined
}
