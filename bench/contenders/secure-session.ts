/**
 * Peer: @fastify/secure-session (libsodium secretbox in a cookie), as its README sets it up. BENCH_MODE:
 * warm (default; it keeps no cache, so "warm" only means the same 1,000 cookies over and over), mint, cold.
 */
import fastifySecureSession from '@fastify/secure-session'
import { createHash } from 'node:crypto'
import Fastify from 'fastify'
import { benchSecret, serveOrMint, userIds } from './serve.js'

const app = Fastify({ logger: false })
await app.register(fastifySecureSession, {
  key: createHash('sha256').update(benchSecret()).digest(),
  cookieName: 'session',
  cookie: { path: '/', httpOnly: true, secure: true, sameSite: 'lax' }
})
app.get('/me', async (request, reply) => {
  // Typed through the plugin's own request.session would clash with ours (also `request.session`) in this
  // one TypeScript project; at run time only @fastify/secure-session is registered here.
  const session = (request as unknown as { session: { get: (key: string) => unknown } }).session
  const userId = session.get('userId') as string | undefined
  if (userId === undefined) return await reply.code(401).send({ error: 'no session' })
  return { userId }
})
await serveOrMint(app, (count) => userIds(count).map((userId) => ({
  cookie: `session=${encodeURIComponent(app.encodeSecureSession(app.createSecureSession({ userId })))}`,
  userId
})))
