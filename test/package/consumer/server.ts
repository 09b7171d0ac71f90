/**
 * A consumer's server code, type-checked and run against the packed package by test/package/consumer.test.ts
 * (strict, skipLibCheck false). The `@ts-expect-error` lines are the proof that the types are live: were any
 * of them `any`, the line would compile and the unused directive would fail the check.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import sessionPlugin, { MemorySessionStore, errors, type SessionInfo, type SessionPluginOptions, type SessionUser } from 'fastify-stateless-session'
import { createSessionClient, type SessionState } from 'fastify-stateless-session/client'

type IsAny<T> = 0 extends (1 & T) ? true : false
type NotAny<T extends false> = T

/** requireSession is a typed preHandler (its reply is Fastify's, not `any`), and so is request.session. */
export type Typed = [
  NotAny<IsAny<Parameters<FastifyInstance['requireSession']>[1]>>,
  NotAny<IsAny<Parameters<FastifyInstance['requireSession']>[0]>>,
  NotAny<IsAny<FastifyRequest['session']>>,
  NotAny<IsAny<FastifyInstance['statelessSession']>>
]

const PASSWORD = 'correct horse battery staple'

const options: SessionPluginOptions = {
  secret: 'consumer test secret, not random: 32+ chars',
  store: new MemorySessionStore(),
  accessTtlSeconds: 600,
  rateLimit: { loginAccountMax: 5 },
  verifyCredentials: async (username, password): Promise<SessionUser | null> =>
    username === 'alice' && password === PASSWORD ? { id: 'u1', username, roles: ['admin'] } : null
}
// @ts-expect-error a lifetime is a number
export const wrongTtl: SessionPluginOptions = { ...options, accessTtlSeconds: '600' }
// @ts-expect-error rateLimit is false or limits, never true
export const wrongLimits: SessionPluginOptions = { ...options, rateLimit: true }

/** Never called: the assignment would throw at run time, and must not compile. */
export function sessionIsReadOnly (request: FastifyRequest): void {
  // @ts-expect-error request.session is read-only
  request.session = null
}

export async function buildConsumerApp (): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(sessionPlugin, options)

  app.get('/api/me', { preHandler: app.requireSession }, async (request) => {
    const session: SessionInfo | null = request.session
    return { username: session?.user.username, stale: request.sessionStale }
  })

  // requireSession called by the app's own hook, with the typed reply.
  async function adminOnly (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!(request.session?.user.roles.includes('admin') ?? false)) {
      await reply.code(403).send({ code: 'NOT_ADMIN' })
    }
  }
  app.register(async (admin) => {
    admin.addHook('onRequest', admin.csrfProtection)
    admin.addHook('preHandler', (request, reply, done) => { app.requireSession(request, reply, done) })
    admin.addHook('preHandler', adminOnly)
    admin.post('/api/admin/ping', async (_request, reply) => await reply.code(204).send())
  })
  return app
}

/** A fetch that keeps cookies, as a browser would (Secure and Path aside). */
function cookieFetch (): typeof fetch {
  const jar = new Map<string, string>()
  return async (input, init = {}) => {
    const headers = new Headers(init.headers)
    if (jar.size > 0) headers.set('cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; '))
    const response = await fetch(input, { ...init, headers })
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const at = pair.indexOf('=')
      jar.set(pair.slice(0, at), pair.slice(at + 1))
    }
    return response
  }
}

/** Runs the consumer: protected routes through inject, then the browser client against the listening app. */
export async function main (): Promise<Record<string, unknown>> {
  const app = await buildConsumerApp()
  try {
    const anonymous = await app.inject({ method: 'GET', url: '/api/me' })
    const expectedCode = new errors.SessionInvalidError().code
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    const client = createSessionClient({ baseUrl: `http://localhost:${address.port}`, fetch: cookieFetch(), locks: null, broadcastChannel: null })
    try {
      const state: SessionState = await client.login('alice', PASSWORD)
      const me = await client.fetch(`http://localhost:${address.port}/api/me`)
      const admin = await client.fetch(`http://localhost:${address.port}/api/admin/ping`, { method: 'POST' })
      return {
        anonymous: { status: anonymous.statusCode, code: (anonymous.json() as { code: string }).code },
        expectedCode,
        login: state.user.username,
        me: { status: me.status, body: await me.json() as unknown },
        admin: admin.status
      }
    } finally {
      client.close()
    }
  } finally {
    await app.close()
  }
}
