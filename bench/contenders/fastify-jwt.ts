/** Peer: @fastify/jwt in cookie mode (a signed HS256 JWT in a cookie, verified on every request). BENCH_MODE: warm, mint, cold. */
import fastifyCookie from '@fastify/cookie'
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import { benchSecret, serveOrMint, userIds } from './serve.js'

const app = Fastify({ logger: false })
await app.register(fastifyCookie)
// Two hours, not the usual 15 minutes: the cold rows' tokens are minted once, at the start of a run that
// can take 25 minutes on a slow machine (a run of 2026-11-30 had its last round refused as expired).
await app.register(fastifyJwt, { secret: benchSecret(), cookie: { cookieName: 'token', signed: false }, sign: { expiresIn: '2h' } })
app.get('/me', async (request, reply) => {
  try {
    const payload = await request.jwtVerify<{ sub: string }>()
    return { userId: payload.sub }
  } catch {
    return await reply.code(401).send({ error: 'no session' })
  }
})
await app.ready()
await serveOrMint(app, (count) => userIds(count).map((userId) => ({ cookie: `token=${app.jwt.sign({ sub: userId })}`, userId })))
