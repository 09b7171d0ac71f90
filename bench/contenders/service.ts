/**
 * The standalone service (`buildApp`, as `npm start` runs it) on a real store, for the routes that touch it.
 *
 * BENCH_STORE=sqlite|redis (with REDIS_URL), BENCH_MODE:
 *   refresh  BENCH_SESSIONS sessions logged in beforehand; the loader rotates each one's refresh cookie
 *            through POST /auth/refresh, always presenting the newest (no replays, no reuse).
 *   login    one user with the configured (OWASP) argon2id cost; the loader posts its credentials.
 * Rate limits are raised to their maximum: the benchmark is one client hammering from one address.
 * BENCH_WORKERS=n (refresh): this process makes the sessions, closes its instance, and then serves through n
 * node:cluster workers over the same SQLite file, as `WORKERS=n npm start` does (src/service/workers.ts).
 */
import cluster from 'node:cluster'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { oursService } from '../our-code.js'
import { BENCH_CREDENTIALS } from '../shared.js'
import { announce, benchSecret, sessionCount, type BenchSession } from './serve.js'

const mode = process.env.BENCH_MODE ?? 'refresh'
const workers = Number(process.env.BENCH_WORKERS ?? '1')
const dataDir = cluster.isPrimary ? mkdtempSync(join(tmpdir(), 'session-bench-')) : process.env.BENCH_DATA_DIR as string
if (cluster.isPrimary) process.on('exit', () => { rmSync(dataDir, { recursive: true, force: true }) })
process.on('SIGTERM', () => { process.exit(0) })
const app = await oursService.buildApp({
  env: {
    NODE_ENV: 'production',
    SESSION_SECRET: benchSecret(),
    STORE: process.env.BENCH_STORE ?? 'sqlite',
    DATA_DIR: dataDir,
    REDIS_URL: process.env.REDIS_URL,
    // Every start its own keys: rounds share one Redis, and each starts from an empty directory as SQLite does.
    REDIS_KEY_PREFIX: `bench-${process.pid}:`,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_LOGIN_ACCOUNT_MAX: '1000000',
    RATE_LIMIT_LOGIN_IP_MAX: '1000000',
    RATE_LIMIT_REFRESH_IP_MAX: '1000000'
  },
  // Refresh never hashes a password: a cheap cost only makes creating its sessions quick. Login keeps the
  // service's own default, which is what the login figure is about.
  ...(mode === 'refresh' ? { passwordHashCost: { memoryCost: 1024, timeCost: 1, parallelism: 1 } } : {})
})
await app.ready()
if (cluster.isWorker) {
  await app.listen({ host: '127.0.0.1', port: 0 })
} else {
  await app.users.add(BENCH_CREDENTIALS.username, BENCH_CREDENTIALS.password)
  const sessions: BenchSession[] = []
  if (mode === 'refresh') {
    const name = app.sessionCookies.refresh.name
    for (let i = 0; i < sessionCount(); i++) {
      const issuedResult = await app.sessions.login(BENCH_CREDENTIALS.username, BENCH_CREDENTIALS.password, { userAgent: 'bench', address: null })
      if (issuedResult.status !== 'issued') throw new Error('login failed')
      const issued = issuedResult.session
      sessions.push({ cookie: `${name}=${issued.refresh.token}`, userId: issued.info.user.id })
    }
  } else {
    const userResult = await app.sessions.login(BENCH_CREDENTIALS.username, BENCH_CREDENTIALS.password, { userAgent: 'bench', address: null })
    if (userResult.status !== 'issued') throw new Error('login failed')
    const user = userResult.session
    sessions.push({ cookie: '', userId: user.info.user.id })
  }
  if (workers > 1) {
    await app.close()
    for (let i = 0; i < workers; i++) cluster.fork({ ...process.env, BENCH_DATA_DIR: dataDir })
    let listening = 0
    const port = await new Promise<number>((resolve) => {
      cluster.on('listening', (_worker, address) => { if (++listening === workers) resolve(address.port) })
    })
    process.once('exit', () => { for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL') })
    announce({ address: () => ({ port, address: '127.0.0.1', family: 'IPv4' }) }, sessions)
  } else {
    await app.listen({ host: '127.0.0.1', port: 0 })
    announce(app.server, sessions)
  }
}
