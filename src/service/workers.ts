/**
 * `WORKERS=n` (or `auto`, one per core): the standalone service as n processes on one port, with node:cluster.
 * The primary only forks, watches and stops the workers; each worker is the whole service (buildApp, listen)
 * over the same store. With SQLite, the workers share the database file: a write is one IMMEDIATE transaction
 * (so rotation stays one compare-and-set across processes, docs/security.md rule 10), and each worker learns
 * the others' revocations by asking the file every 10 ms whether another connection committed
 * (`PRAGMA data_version`; src/session/revocation-sync.ts). With Redis, as several instances do.
 */
import cluster, { type Worker } from 'node:cluster'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { parseEnv } from 'node:util'

/** The number of workers WORKERS asks for; undefined when the value is not `auto` or an integer 1-256. */
export function workerCount (value: string | undefined, cores = availableParallelism()): number | undefined {
  const given = (value ?? '').trim()
  if (given === '') return 1
  if (given === 'auto') return Math.max(1, cores)
  if (!/^[1-9]\d{0,2}$/.test(given) || Number(given) > 256) return undefined
  return Number(given)
}

/**
 * WORKERS and STORE from the environment, or else from `.env` (the service's own reading of `.env` happens in
 * each worker, after the primary has decided).
 */
export function clusterSettings (env: NodeJS.ProcessEnv, dotenvFile = '.env'): { workers: string | undefined, store: string | undefined } {
  let file: Record<string, string> = {}
  try {
    file = parseEnv(readFileSync(dotenvFile, 'utf8')) as Record<string, string>
  } catch {}
  return { workers: env['WORKERS'] ?? file['WORKERS'], store: env['STORE'] ?? file['STORE'] }
}

/**
 * Rejects with the error a listen on `host:port` meets (EADDRINUSE, EACCES, a host that is not this machine's),
 * else resolves once the trial listener is closed again. The primary asks before forking: with node:cluster it
 * is the primary that binds the port on the workers' behalf, and each worker would only get the error back
 * (as a `bind` error), so a port in use would stop the service from inside a worker instead of saying so once.
 */
export async function checkListen (host: string, port: number): Promise<void> {
  const server = createServer()
  server.listen({ host, port })
  await once(server, 'listening')
  await new Promise((resolve) => server.close(resolve))
}

export interface PrimaryLog {
  info: (message: string) => void
  error: (message: string) => void
}

/**
 * Runs the primary: forks `count` workers and keeps that many running. A worker that dies after it started
 * serving is replaced; one that dies before (bad configuration: every worker would) stops the whole service
 * with its exit code. SIGTERM or SIGINT: each worker is asked to close gracefully, then the primary exits.
 */
export function runPrimary (count: number, log: PrimaryLog): void {
  let stopping = false
  const serving = new WeakSet<Worker>()
  const fork = (): void => {
    const worker = cluster.fork()
    worker.once('listening', () => { serving.add(worker) })
    worker.once('exit', (code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit() // with stop()'s process.exitCode
        return
      }
      if (!serving.has(worker)) {
        log.error(`worker ${worker.process.pid ?? '?'} exited (${signal ?? String(code)}) before it served: stopping the service`)
        stop(typeof code === 'number' && code !== 0 ? code : 1)
        return
      }
      log.error(`worker ${worker.process.pid ?? '?'} exited (${signal ?? String(code)}); starting another`)
      fork()
    })
  }
  const stop = (code = 0): void => {
    if (stopping) return
    stopping = true
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
    if (workers.length === 0) process.exit(code)
    if (code !== 0) process.exitCode = code
    // The signal each worker's close-with-grace handles: it stops accepting, finishes what it serves, closes.
    for (const worker of workers) worker.process.kill('SIGTERM')
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => { stop() })
  log.info(`starting ${count} workers`)
  for (let i = 0; i < count; i++) fork()
}
