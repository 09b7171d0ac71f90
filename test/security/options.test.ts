/**
 * Configuration of the defences: a wrong plugin option or environment variable stops the boot with a message
 * naming it (trusted origins, public origin, CORS, security headers, rate limits, Redis client, TRUST_PROXY),
 * and the switches do what they say.
 */
import fastifyRateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { compileTrustProxy } from '../../src/service/trust-proxy.js'
import { canonicalOrigin } from '../../src/http/csrf.js'
import sessionPlugin, { type SessionPluginOptions } from '../../src/http/plugin.js'
import { SECURITY_HEADERS } from '../../src/http/security-headers.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { FAST_HASH, tempDir, TEST_SECRET, testEnv } from '../helper.js'

async function plugin (t: Test, options: Partial<SessionPluginOptions> = {}, before?: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(async () => await app.close())
  if (before !== undefined) await before(app)
  await app.register(sessionPlugin, {
    secret: TEST_SECRET,
    store: new MemorySessionStore(),
    verifyCredentials: async () => null,
    ...options
  })
  await app.ready()
  return app
}

test('bad plugin options stop the boot, naming the option', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['trustedOrigins not an array', { trustedOrigins: 'https://app.example.com' }, /"trustedOrigins" must be an array/],
    ['a path', { trustedOrigins: ['https://app.example.com/app'] }, /"trustedOrigins\[0\]" must be an origin/],
    ['a trailing slash', { trustedOrigins: ['https://app.example.com/'] }, /"trustedOrigins\[0\]"/],
    ['an upper-case host', { trustedOrigins: ['https://App.example.com'] }, /"trustedOrigins\[0\]"/],
    ['the default port spelled out', { trustedOrigins: ['https://app.example.com:443'] }, /"trustedOrigins\[0\]"/],
    ['null', { trustedOrigins: ['null'] }, /"trustedOrigins\[0\]"/],
    ['a wildcard', { trustedOrigins: ['https://app.example.com', '*'] }, /"trustedOrigins\[1\]"/],
    ['a wildcard subdomain', { trustedOrigins: ['https://*.example.com'] }, /"trustedOrigins\[0\]"/],
    ['another scheme', { trustedOrigins: ['ftp://app.example.com'] }, /"trustedOrigins\[0\]"/],
    ['not a URL', { trustedOrigins: ['app.example.com'] }, /"trustedOrigins\[0\]"/],
    ['not a string', { trustedOrigins: [42] }, /"trustedOrigins\[0\]"/],
    ['publicOrigin with a path', { publicOrigin: 'https://auth.example.com/auth' }, /"publicOrigin" must be an origin/],
    ['cors not a boolean', { cors: 'yes' }, /"cors" must be a boolean/],
    ['securityHeaders not a boolean', { securityHeaders: 1 }, /"securityHeaders" must be a boolean/],
    ['rateLimit true', { rateLimit: true }, /"rateLimit" must be false or an object/],
    ['rateLimit null', { rateLimit: null }, /"rateLimit" must be false or an object/],
    ['rateLimit unknown key', { rateLimit: { loginMax: 5 } }, /"rateLimit" has unknown keys: loginMax/],
    ['rateLimit zero', { rateLimit: { loginAccountMax: 0 } }, /"rateLimit.loginAccountMax" must be an integer from 1/],
    ['rateLimit window too long', { rateLimit: { loginWindowSeconds: 86401 } }, /"rateLimit.loginWindowSeconds" must be an integer from 1 to 86400/],
    ['rateLimit a fraction', { rateLimit: { refreshIpMax: 1.5 } }, /"rateLimit.refreshIpMax"/],
    ['redis not a client', { redis: { get: () => null } }, /"redis" must be an ioredis client/],
    ['redis a string', { redis: 'redis://localhost' }, /"redis" must be an ioredis client/]
  ]
  for (const [name, options, message] of cases) {
    await t.rejects(plugin(t, options as Partial<SessionPluginOptions>), { code: 'ERR_INVALID_OPTION', message }, name)
  }
})

test('origins are taken in the exact form browsers send', async (t) => {
  t.equal(canonicalOrigin('https://app.example.com'), 'https://app.example.com')
  t.equal(canonicalOrigin('http://localhost:5173'), 'http://localhost:5173')
  t.equal(canonicalOrigin('https://xn--bcher-kva.example'), 'https://xn--bcher-kva.example')
  t.equal(canonicalOrigin('http://[::1]:8080'), 'http://[::1]:8080')
  t.equal(canonicalOrigin('http://127.0.0.1:3000'), 'http://127.0.0.1:3000')
  for (const bad of ['https://bücher.example', 'https://app.example.com.', ' https://app.example.com', 'https://user@app.example.com', 'javascript:alert(1)', 'data:,x', 'https://*.example.com', 'https://-app.example.com', 'https://app_1.example.com', '', undefined]) {
    t.equal(canonicalOrigin(bad), undefined, JSON.stringify(bad))
  }
})

test('the switches: securityHeaders false, rateLimit false', async (t) => {
  const bare = await plugin(t, { securityHeaders: false, rateLimit: false })
  const response = await bare.inject({ method: 'GET', url: '/auth/session' })
  t.equal(response.statusCode, 401)
  for (const header of Object.keys(SECURITY_HEADERS)) t.equal(response.headers[header], undefined, `no ${header}`)
  t.equal(response.headers['cache-control'], 'no-store', 'no-store stays')
  for (let i = 0; i < 15; i++) {
    const login = await bare.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: { username: 'alice', password: 'wrong' } })
    if (login.statusCode !== 401) t.fail(`attempt ${i}: ${login.statusCode}`)
  }
  for (let i = 0; i < 150; i++) {
    const refresh = await bare.inject({ method: 'POST', url: '/auth/refresh' })
    if (refresh.statusCode !== 401) t.fail(`refresh ${i}: ${refresh.statusCode}`)
  }
  t.pass('no limit applied')
})

test('@fastify/rate-limit registered by the app before the plugin stops the boot; after it, both work', async (t) => {
  await t.rejects(
    plugin(t, {}, async (app) => { await app.register(fastifyRateLimit, { global: false }) }),
    { code: 'ERR_INVALID_OPTION', message: /@fastify\/rate-limit is already registered/ }
  )
  t.ok(await plugin(t, { rateLimit: false }, async (app) => { await app.register(fastifyRateLimit, { global: false }) }), 'fine with rateLimit: false')
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, { secret: TEST_SECRET, store: new MemorySessionStore(), verifyCredentials: async () => null, rateLimit: { loginAccountMax: 1 } })
  await app.register(fastifyRateLimit, { max: 2, timeWindow: 60_000 })
  app.get('/mine', async () => ({ ok: true }))
  await app.ready()
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await app.inject({ method: 'GET', url: '/mine' })).statusCode)
  t.same(statuses, [200, 200, 429], 'the app\'s own limit works')
  const logins = []
  for (let i = 0; i < 2; i++) logins.push((await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: { username: 'a', password: 'b' } })).statusCode)
  t.same(logins, [401, 429], 'and the plugin\'s')
})

test('TRUST_PROXY: addresses, ranges and names; nothing that trusts everyone; nothing malformed', async (t) => {
  const trust = compileTrustProxy(['10.0.0.0/8', ' 192.0.2.1 ', '', 'loopback', '2001:db8::/32'])
  t.ok(trust('10.1.2.3', 0))
  t.ok(trust('192.0.2.1', 0))
  t.ok(trust('127.0.0.1', 0))
  t.ok(trust('::1', 0))
  t.ok(trust('2001:db8:1::1', 0))
  t.notOk(trust('192.0.2.2', 0))
  t.notOk(trust('11.0.0.1', 0))
  t.notOk(compileTrustProxy([])('127.0.0.1', 0), 'empty: nobody')
  t.notOk(compileTrustProxy([''])('127.0.0.1', 0), 'the unset variable: nobody')
  for (const everyone of ['0.0.0.0/0', '::/0', '10.0.0.1/00', '1.2.3.4/0.0.0.0']) {
    t.throws(() => compileTrustProxy([everyone]), { code: 'ERR_INVALID_OPTION', message: /trusts every address/ }, everyone)
  }
  for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.256', 'true', '*']) {
    t.throws(() => compileTrustProxy([bad]), { code: 'ERR_INVALID_OPTION', message: /TRUST_PROXY must list IP addresses/ }, bad)
  }
})

test('bad environment values stop the standalone service at boot', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TRUST_PROXY: '0.0.0.0/0' }, /TRUST_PROXY entry "0.0.0.0\/0" trusts every address/],
    [{ TRUST_PROXY: 'my-proxy' }, /TRUST_PROXY must list/],
    [{ TRUSTED_ORIGINS: 'https://app.example.com,https://app.example.com/x' }, /^TRUSTED_ORIGINS entry 2 must be an origin/],
    [{ PUBLIC_ORIGIN: 'auth.example.com' }, /^PUBLIC_ORIGIN must be an origin/],
    [{ RATE_LIMIT_LOGIN_ACCOUNT_MAX: '0' }, /RATE_LIMIT_LOGIN_ACCOUNT_MAX/],
    [{ RATE_LIMIT_LOGIN_WINDOW_SECONDS: 'forever' }, /RATE_LIMIT_LOGIN_WINDOW_SECONDS/]
  ]
  for (const [env, message] of cases) {
    await t.rejects(async () => {
      const app = await buildApp({ passwordHashCost: FAST_HASH, env: testEnv({ DATA_DIR: tempDir(t), ...env }) })
      await app.close()
    }, { message }, JSON.stringify(env))
  }
  const app = await buildApp({ passwordHashCost: FAST_HASH, env: testEnv({ DATA_DIR: tempDir(t), TRUST_PROXY: 'loopback,10.0.0.0/8', TRUSTED_ORIGINS: 'https://a.example.com,https://b.example.com', PUBLIC_ORIGIN: 'https://auth.example.com' }) })
  t.teardown(async () => await app.close())
  t.same(app.config.TRUSTED_ORIGINS, ['https://a.example.com', 'https://b.example.com'])
  t.same(app.config.TRUST_PROXY, ['loopback', '10.0.0.0/8'])
})

test('a Host that is no host never matches an Origin', async (t) => {
  const app = await plugin(t)
  const response = await app.inject({ method: 'POST', url: '/auth/logout', headers: { host: 'a b', origin: 'http://a b' } })
  t.equal(response.statusCode, 403)
  t.equal(response.json().code, 'ERR_CSRF_REJECTED')
})
