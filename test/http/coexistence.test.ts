/**
 * The plugin beside the official session plugins: @fastify/secure-session and @fastify/session also decorate
 * `request.session`, @fastify/csrf-protection decorates `app.csrfProtection`. With our decorators renamed,
 * both work in one app; without, the boot stops with a message that says what to rename.
 */
import fastifyCookie from '@fastify/cookie'
import fastifyCsrfProtection from '@fastify/csrf-protection'
import fastifySecureSession from '@fastify/secure-session'
import fastifySession from '@fastify/session'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { test, type Test } from 'tap'
import sessionPlugin, { type SessionPluginOptions } from '../../src/http/plugin.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { client, TEST_SECRET } from '../helper.js'

function baseOptions (overrides: Partial<SessionPluginOptions> = {}): SessionPluginOptions {
  return {
    secret: TEST_SECRET,
    store: new MemorySessionStore(),
    verifyCredentials: async (username, password) => username === 'ada' && password === 'analytical engine' ? { id: 'u-ada', username, roles: [] } : null,
    ...overrides
  }
}

const SECURE_SESSION_KEY = Buffer.alloc(32, 7)
const SESSION_SECRET = 'a secret for @fastify/session, 32 characters or more'

async function app (t: Test, setup: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const instance = Fastify()
  t.teardown(async () => await instance.close())
  await setup(instance)
  return instance
}

/** Routes that use both plugins' session objects: ours under `request.auth`, theirs under `request.session`. */
function bothRoutes (instance: FastifyInstance, theirs: (request: FastifyRequest) => { get: (key: string) => unknown, set: (key: string, value: unknown) => void }): void {
  instance.get('/api/cart', { preHandler: instance.requireSession }, async (request) => {
    const cart = theirs(request)
    const count = Number(cart.get('count') ?? 0) + 1
    cart.set('count', count)
    return { user: request.auth?.user.id, count, ours: instance.statelessSession.sessionOf(request)?.user.id }
  })
}

test('beside @fastify/secure-session: request.auth is ours, request.session is theirs', async (t) => {
  const instance = await app(t, async (a) => {
    await a.register(fastifySecureSession, { key: SECURE_SESSION_KEY, cookie: { path: '/' } })
    await a.register(sessionPlugin, baseOptions({ requestDecorator: 'auth' }))
    bothRoutes(a, (request) => (request as { session: { get: (k: string) => unknown, set: (k: string, v: unknown) => void } }).session)
  })
  const c = client(instance)
  t.equal((await c.request('GET', '/api/cart')).statusCode, 401, 'our requireSession guards the route')
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).statusCode, 200)
  t.same((await c.request('GET', '/api/cart')).json(), { user: 'u-ada', count: 1, ours: 'u-ada' })
  t.same((await c.request('GET', '/api/cart')).json(), { user: 'u-ada', count: 2, ours: 'u-ada' }, 'their session keeps its data across requests')
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  t.equal((await c.request('GET', '/api/cart')).statusCode, 401, 'our logout ends ours')
})

test('beside @fastify/session (with @fastify/cookie registered by the app)', async (t) => {
  const instance = await app(t, async (a) => {
    await a.register(fastifyCookie)
    await a.register(fastifySession, { secret: SESSION_SECRET, cookie: { secure: false }, saveUninitialized: false })
    await a.register(sessionPlugin, baseOptions({ requestDecorator: 'auth' }))
    bothRoutes(a, (request) => (request as { session: { get: (k: string) => unknown, set: (k: string, v: unknown) => void } }).session)
  })
  const c = client(instance)
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).statusCode, 200)
  t.same((await c.request('GET', '/api/cart')).json(), { user: 'u-ada', count: 1, ours: 'u-ada' })
  t.same((await c.request('GET', '/api/cart')).json(), { user: 'u-ada', count: 2, ours: 'u-ada' })
})

test('beside @fastify/csrf-protection: its csrfProtection and ours under another name', async (t) => {
  const instance = await app(t, async (a) => {
    await a.register(fastifyCookie)
    await a.register(fastifyCsrfProtection)
    await a.register(sessionPlugin, baseOptions({ csrfDecorator: 'sessionCsrf' }))
    a.get('/csrf', async (_request, reply) => ({ token: reply.generateCsrf() }))
    a.post('/theirs', { onRequest: a.csrfProtection }, async () => ({ ok: true }))
    a.post('/ours', { onRequest: a.sessionCsrf }, async () => ({ ok: true }))
  })
  const c = client(instance)
  const { token } = (await c.request('GET', '/csrf')).json() as { token: string }
  t.equal((await c.request('POST', '/theirs', {})).statusCode, 403, 'theirs wants its token')
  t.equal((await c.request('POST', '/theirs', {}, { 'csrf-token': token })).statusCode, 200, 'and takes it')
  t.equal((await c.request('POST', '/ours', {}, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).json().code, 'ERR_CSRF_REJECTED', 'ours refuses cross-site requests')
  t.equal((await c.request('POST', '/ours', {})).statusCode, 200, 'and lets curl through')
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).statusCode, 403, 'the auth routes keep our check')
})

test('a collision stops the boot with a message that names the fix', async (t) => {
  const cases: Array<[string, (a: FastifyInstance) => Promise<void>, RegExp]> = [
    ['secure-session first', async (a) => { await a.register(fastifySecureSession, { key: SECURE_SESSION_KEY }) }, /"requestDecorator" "session": request\.session is already decorated .* requestDecorator: 'auth'/],
    ['csrf-protection first', async (a) => { await a.register(fastifyCookie); await a.register(fastifyCsrfProtection) }, /"csrfDecorator" "csrfProtection": app\.csrfProtection is already decorated .* csrfDecorator: 'sessionCsrf'/]
  ]
  for (const [name, before, message] of cases) {
    const instance = Fastify()
    t.teardown(async () => await instance.close())
    await before(instance)
    await t.rejects(async () => { await instance.register(sessionPlugin, baseOptions()); await instance.ready() }, { code: 'ERR_INVALID_OPTION', message }, name)
  }
  for (const bad of ['', '1st', 'a-b', 'x'.repeat(65)]) {
    const instance = Fastify()
    t.teardown(async () => await instance.close())
    await t.rejects(async () => { await instance.register(sessionPlugin, baseOptions({ requestDecorator: bad })); await instance.ready() }, { code: 'ERR_INVALID_OPTION', message: /"requestDecorator" must be a JavaScript identifier/ }, JSON.stringify(bad))
  }
})
