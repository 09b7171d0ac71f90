/**
 * Type tests of the public surface with the default decorator names (checked by `npm run typecheck`; nothing
 * here runs). A wrong type here fails the type check, like a failed assertion.
 */
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import sessionPlugin, { MemorySessionStore, type RequireRecentAuth, type SessionInfo, type SessionPluginOptions, type SessionUser, type StatelessSessionApi, type ClaimValue } from '../../src/index.js'
import { createSessionClient, type LiveSession, type SessionClient, type SessionState } from '../../src/client/session-client.js'
import type { LiveSessionJson, SessionJson } from '../../src/wire/schemas.js'

declare const request: FastifyRequest
expectTypeOf(request.session).toEqualTypeOf<SessionInfo | null>()
expectTypeOf(request.sessionStale).toEqualTypeOf<boolean>()
// @ts-expect-error request.session is read-only
request.session = null

const app = Fastify()
expectTypeOf(app.requireSession).parameters.toEqualTypeOf<[FastifyRequest, FastifyReply, HookHandlerDoneFunction]>()
expectTypeOf(app.requireSession).returns.toEqualTypeOf<void>()
expectTypeOf(app.csrfProtection).parameters.toEqualTypeOf<[FastifyRequest, FastifyReply, HookHandlerDoneFunction]>()
expectTypeOf(app.statelessSession).toEqualTypeOf<StatelessSessionApi>()
expectTypeOf(app.statelessSession.sessionOf).returns.toEqualTypeOf<SessionInfo | null>()
expectTypeOf(app.requireRecentAuth).toEqualTypeOf<RequireRecentAuth>()
expectTypeOf(app.statelessSession.requireRecentAuth).toEqualTypeOf<RequireRecentAuth>()
expectTypeOf(app.requireRecentAuth(300, { amr: ['otp'] })).parameters.toEqualTypeOf<[FastifyRequest, FastifyReply, HookHandlerDoneFunction]>()
// @ts-expect-error the age is a number of seconds
app.requireRecentAuth('5m')
app.post('/transfer', { preHandler: app.requireRecentAuth(120) }, async (req) => {
  expectTypeOf(req.session?.authTime).toEqualTypeOf<number | undefined>()
  expectTypeOf(req.session?.amr).toEqualTypeOf<readonly string[] | undefined>()
  return null
})
expectTypeOf(app.statelessSession.signedIdentity).parameters.toEqualTypeOf<[FastifyRequest, string]>()
expectTypeOf(app.statelessSession.signedIdentity).returns.toEqualTypeOf<string | null>()
app.get('/orders', { preHandler: app.requireSession }, async (req) => {
  expectTypeOf(req.session?.user).toEqualTypeOf<Readonly<SessionUser> | undefined>()
  // Without a SessionClaims of the app's own: any flat claim, each possibly absent.
  expectTypeOf(req.session?.claims['tenant']).toEqualTypeOf<ClaimValue | undefined>()
  return null
})
expectTypeOf<ClaimValue>().toEqualTypeOf<string | number | boolean>()

const options: SessionPluginOptions = {
  secret: 'x'.repeat(32),
  store: new MemorySessionStore(),
  verifyCredentials: async (username) => ({ id: username, username, roles: [] })
}
export const registrations = [
  app.register(sessionPlugin, options),
  app.register(sessionPlugin, { ...options, accessTtlSeconds: 600, rateLimit: { loginAccountMax: 5 }, trustedOrigins: ['https://app.example.com'] }),
  // @ts-expect-error a lifetime is a number
  app.register(sessionPlugin, { ...options, accessTtlSeconds: '600' }),
  // @ts-expect-error rateLimit is false or limits, never true
  app.register(sessionPlugin, { ...options, rateLimit: true }),
  // @ts-expect-error verifyCredentials is required
  app.register(sessionPlugin, { secret: options.secret, store: options.store }),
  // @ts-expect-error verifyCredentials answers a user or null
  app.register(sessionPlugin, { ...options, verifyCredentials: async () => 'alice' }),
  app.register(sessionPlugin, { ...options, verifyCredentials: async (username) => ({ id: username, username, roles: [], claims: { tenant: 'acme', seats: 3, trial: false } }) }),
  // @ts-expect-error claims are flat: no nested objects
  app.register(sessionPlugin, { ...options, verifyCredentials: async (username) => ({ id: username, username, roles: [], claims: { tenant: { id: 1 } } }) })
]

// The client's types are the wire shapes, not restatements.
const client: SessionClient = createSessionClient({ baseUrl: 'https://auth.example.com' })
expectTypeOf(client.sessions).returns.resolves.toEqualTypeOf<LiveSession[]>()
expectTypeOf<LiveSession>().toEqualTypeOf<LiveSessionJson>()
expectTypeOf<SessionState['user']>().toEqualTypeOf<Readonly<SessionJson['user']>>()
