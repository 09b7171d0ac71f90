/**
 * This project, as an app embeds it: the session plugin (memory store: an access check never touches the
 * store, whichever it is) and one protected route behind `app.requireSession`.
 *
 * BENCH_MODE=warm  logs in BENCH_SESSIONS sessions itself; the loader presents them round-robin, so after the
 *                  first lap every token is in the verified-token cache.
 * BENCH_MODE=cold  creates no sessions: the runner presents tokens minted by another process (mode `mint`)
 *                  under the same secret, each once, so every request carries a token this process has never
 *                  seen and pays the full decrypt + verify.
 * BENCH_MODE=mint  logs in BENCH_SESSIONS sessions, writes their cookies and exits without listening.
 * BENCH_METRICS=1  metrics on, as the service runs them: the plugin's metrics and Node's default metrics on a
 *                  prom-client registry, scraped every second (Prometheus scrapes every 15 s or so).
 * BENCH_CACHE=n     sets `verifiedTokenCacheSize` (default: the plugin's), for experiments by hand.
 */
import Fastify from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { ours } from '../our-code.js'
import { MintOnlyStore } from '../shared.js'
import { announce, benchSecret, sessionCount, type BenchSession } from './serve.js'

const mode = process.env.BENCH_MODE ?? 'warm'
const app = Fastify({ logger: false })
const metricsRegistry = process.env.BENCH_METRICS === '1' ? new Registry() : undefined
if (metricsRegistry !== undefined) {
  collectDefaultMetrics({ register: metricsRegistry })
  setInterval(() => { metricsRegistry.metrics().catch((error: unknown) => { throw error }) }, 1000).unref()
}
await app.register(ours.default, {
  secret: benchSecret(),
  store: mode === 'mint' ? new MintOnlyStore() : new ours.MemorySessionStore(),
  // The credential check is the embedding app's business; here every username is a user of that id.
  verifyCredentials: async (username) => ({ id: username, username, roles: ['member'] }),
  rateLimit: false,
  // Two hours instead of the default 15 minutes: the cold rows' tokens are minted once, at the start of a run
  // that can take 25 minutes on a slow machine (a run of 2026-11-30 had its last round refused as expired).
  // The lifetime changes no cost of the check.
  accessTtlSeconds: 7200,
  ...(metricsRegistry === undefined ? {} : { metricsRegistry }),
  ...(process.env.BENCH_CACHE === undefined ? {} : { verifiedTokenCacheSize: Number(process.env.BENCH_CACHE) })
})
app.get('/me', { preHandler: app.requireSession }, async (request) => ({ userId: app.statelessSession.sessionOf(request)?.user.id }))

const sessions: BenchSession[] = []
if (mode !== 'cold') {
  const name = app.sessionCookies.access.name
  for (let i = 0; i < sessionCount(); i++) {
    const issuedResult = await app.sessions.login(`user-${i}`, 'unused', { userAgent: 'bench', address: null })
    if (issuedResult.status !== 'issued') throw new Error('login failed')
    const issued = issuedResult.session
    sessions.push({ cookie: `${name}=${issued.access.token}`, userId: `user-${i}` })
  }
}
if (mode === 'mint') {
  await app.ready()
  announce({ address: () => ({ port: 0, address: '', family: '' }) }, sessions)
  await app.close()
  process.disconnect?.()
} else {
  await app.listen({ host: '127.0.0.1', port: 0 })
  announce(app.server, sessions)
}
