/**
 * The start-up failures that come from a setting, said in one line naming it (server.ts prints them and
 * exits 1). Anything else is a bug and keeps its stack trace.
 */

interface StartupError { code?: string, syscall?: string, message?: string }

/** One line (or one per wrong variable) for a failure caused by the configuration; undefined otherwise. */
export function startupFailure (error: unknown, env: Record<string, string | undefined>): string | undefined {
  const e = (typeof error === 'object' && error !== null ? error : {}) as StartupError
  const message = e.message ?? ''
  if (e.code === 'ERR_INVALID_OPTION') return message
  if (e.code === 'ERR_STORE_CONNECT') {
    const variable = / at cluster /.test(message) ? 'REDIS_CLUSTER_NODES' : / at sentinel /.test(message) ? 'REDIS_SENTINELS and REDIS_SENTINEL_NAME' : 'REDIS_URL'
    return `${message} (check ${variable})`
  }
  const host = env['HOST'] ?? 'localhost'
  const port = env['PORT'] ?? '3000'
  if (e.syscall === 'listen' || e.syscall === 'getaddrinfo') {
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
