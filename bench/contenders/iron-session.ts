/** Peer: iron-session 8 (iron-webcrypto seal in a cookie), read with getIronSession on Node's req/res. BENCH_MODE: warm, mint, cold. */
import Fastify from 'fastify'
import { getIronSession, sealData } from 'iron-session'
import { benchSecret, serveOrMint, userIds } from './serve.js'

const options = { password: benchSecret(), cookieName: 'iron' }
const app = Fastify({ logger: false })
app.get('/me', async (request, reply) => {
  const session = await getIronSession<{ userId?: string }>(request.raw, reply.raw, options)
  if (session.userId === undefined) return await reply.code(401).send({ error: 'no session' })
  return { userId: session.userId }
})
await serveOrMint(app, async (count) => {
  const sessions = []
  for (const userId of userIds(count)) {
    sessions.push({ cookie: `iron=${await sealData({ userId }, { password: options.password })}`, userId })
  }
  return sessions
})
