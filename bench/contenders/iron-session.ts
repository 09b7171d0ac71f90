/** Peer: iron-session 8 (iron-webcrypto seal in a cookie), read with getIronSession on Node's req/res. */
import Fastify from 'fastify'
import { getIronSession, sealData } from 'iron-session'
import { announce, benchSecret, sessionCount, userIds } from './serve.js'

const options = { password: benchSecret(), cookieName: 'iron' }
const app = Fastify({ logger: false })
app.get('/me', async (request, reply) => {
  const session = await getIronSession<{ userId?: string }>(request.raw, reply.raw, options)
  if (session.userId === undefined) return await reply.code(401).send({ error: 'no session' })
  return { userId: session.userId }
})
await app.listen({ host: '127.0.0.1', port: 0 })
const sessions = []
for (const userId of userIds(sessionCount())) {
  sessions.push({ cookie: `iron=${await sealData({ userId }, { password: options.password })}`, userId })
}
announce(app.server, sessions)
