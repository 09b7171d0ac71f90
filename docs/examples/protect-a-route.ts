/**
 * A small Fastify app that keeps its own users and protects its own routes with the session plugin.
 * test/http/example-app.test.ts runs it; docs/plugin.md walks through it.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import sessionPlugin, { MemorySessionStore, type SessionUser } from 'fastify-stateless-session'
import { PasswordHasher } from 'fastify-stateless-session/passwords'

interface StoredUser extends SessionUser {
  passwordHash: string
}

export async function buildExampleApp (options: { secret: string, users: Array<{ username: string, password: string, roles: string[] }> }): Promise<FastifyInstance> {
  // Your user table. Here: in memory, with argon2id hashes made by the package's hasher.
  const hasher = new PasswordHasher()
  const users = new Map<string, StoredUser>()
  for (const [i, u] of options.users.entries()) {
    users.set(u.username, { id: `user-${i + 1}`, username: u.username, roles: u.roles, passwordHash: await hasher.hash(u.password) })
  }

  const app = Fastify()
  await app.register(sessionPlugin, {
    secret: options.secret,
    // MemorySessionStore for a single process; SqliteSessionStore to survive restarts; a Redis store to
    // run several instances (docs/deployment.md).
    store: new MemorySessionStore(),
    async verifyCredentials (username, password) {
      const user = users.get(username)
      if (user === undefined) {
        await hasher.verifyNothing(password) // same time for unknown users
        return null
      }
      return await hasher.verify(user.passwordHash, password) ? { id: user.id, username: user.username, roles: user.roles } : null
    }
  })

  // Protected: 401 with the standard body unless the request carries a valid session.
  app.get('/api/profile', { preHandler: app.requireSession }, async (request) => {
    const session = request.session
    return { id: session?.user.id, username: session?.user.username, roles: session?.user.roles }
  })

  // Public, but aware of who is calling.
  app.get('/api/greeting', async (request) => ({
    greeting: request.session === null ? 'Hello, stranger' : `Hello, ${request.session.user.username}`
  }))
  return app
}
