/**
 * What every contender process does once its server is built: listen on a free loopback port, write the
 * sessions the loader will present (cookie header value and the user id the route must answer with) to the
 * file the runner named, and tell the runner the port over IPC. Runs until the runner kills it.
 */
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'

export interface BenchSession {
  /** The whole `Cookie` header value to send. */
  cookie: string
  /** What GET /me must answer (`{ "userId": ... }`) for this cookie. */
  userId: string
}

export interface Listening {
  address: () => AddressInfo | string | null
}

/** Sessions to create: the runner passes BENCH_SESSIONS (count) and BENCH_SESSIONS_FILE (where to write them). */
export function sessionCount (): number {
  return Number(process.env.BENCH_SESSIONS ?? '1000')
}

export function benchSecret (): string {
  const secret = process.env.BENCH_SECRET
  if (secret === undefined || secret.length < 32) throw new Error('BENCH_SECRET (32+ characters) is required')
  return secret
}

export function announce (server: Listening, sessions: BenchSession[]): void {
  const file = process.env.BENCH_SESSIONS_FILE
  if (file === undefined) throw new Error('BENCH_SESSIONS_FILE is required')
  writeFileSync(file, JSON.stringify(sessions))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP')
  if (process.send === undefined) throw new Error('start me with child_process.fork (IPC)')
  // A clean exit on SIGTERM, so that `--cpu-prof` gets to write its profile.
  process.once('SIGTERM', () => { process.exit(0) })
  process.send({ type: 'ready', port: address.port })
}

/** User ids of the benchmark's sessions: user-0 ... user-(n-1). */
export function userIds (count: number): string[] {
  return Array.from({ length: count }, (_, i) => `user-${i}`)
}

/**
 * BENCH_MODE=mint: make the sessions, write them to the runner's file and exit without serving (the runner
 * then presents them to a fresh server of the same kind, BENCH_MODE=cold, each once). Otherwise: listen, and
 * announce the sessions made here (none in cold mode).
 */
export async function serveOrMint (app: { listen: (o: { host: string, port: number }) => Promise<string>, server: Listening, close: () => Promise<unknown> }, make: (count: number) => Promise<BenchSession[]> | BenchSession[]): Promise<void> {
  const mode = process.env.BENCH_MODE ?? 'warm'
  const sessions = mode === 'cold' ? [] : await make(sessionCount())
  if (mode === 'mint') {
    announce({ address: () => ({ port: 0, address: '', family: '' }) }, sessions)
    await app.close()
    process.disconnect?.()
    return
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  announce(app.server, sessions)
}
