/** An embedding app: its own users, its own routes, the session plugin registered with options. */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import sessionPlugin, { type SessionPluginOptions } from '../../src/http/plugin.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import type { SessionUser } from '../../src/stores/session-store.js'
import { TEST_SECRET } from '../helper.js'

export const USERS: Record<string, { password: string, user: SessionUser }> = {
  ada: { password: 'analytical engine', user: { id: 'u-ada', username: 'ada', roles: ['admin'] } }
}

export async function verifyCredentials (username: string, password: string): Promise<SessionUser | null> {
  const entry = USERS[username]
  return entry !== undefined && entry.password === password ? entry.user : null
}

export function baseOptions (overrides: Partial<SessionPluginOptions> = {}): SessionPluginOptions {
  return { secret: TEST_SECRET, store: new MemorySessionStore(), verifyCredentials, ...overrides }
}

export async function embeddingApp (t: Test, options: Partial<SessionPluginOptions> = {}, setup?: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(async () => await app.close())
  await setup?.(app)
  await app.register(sessionPlugin, baseOptions(options))
  app.get('/api/me', { preHandler: app.requireSession }, async (request) => ({ id: request.session?.user.id }))
  app.get('/api/public', async (request) => ({ signedIn: request.session !== null }))
  await app.ready()
  return app
}
