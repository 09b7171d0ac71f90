import fastifyCookie from '@fastify/cookie'
import Fastify from 'fastify'
import { test } from 'tap'
import sessionPlugin, { type SessionPluginOptions } from '../../src/http/plugin.js'
import { client, ManualClock } from '../helper.js'
import { baseOptions, embeddingApp, USERS, verifyCredentials } from './plugin-helper.js'

test('an embedding app protects its own routes with requireSession and reads request.session', async (t) => {
  const app = await embeddingApp(t)
  const c = client(app)
  t.equal((await c.request('GET', '/api/me')).statusCode, 401)
  t.same((await c.request('GET', '/api/me')).json(), { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' })
  t.same((await c.request('GET', '/api/public')).json(), { signedIn: false })
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).statusCode, 200)
  t.same((await c.request('GET', '/api/me')).json(), { id: 'u-ada' })
  t.same((await c.request('GET', '/api/public')).json(), { signedIn: true })
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'wrong' })).statusCode, 401)
})

test('prefix, issuer, audience and insecure development cookies are configurable', async (t) => {
  const app = await embeddingApp(t, { prefix: '/api/session', issuer: 'me', audience: 'my-app', cookieSecure: false })
  const c = client(app)
  const login = await c.request('POST', '/api/session/login', { username: 'ada', password: 'analytical engine' })
  t.equal(login.statusCode, 200)
  t.same([...c.jar.cookies.keys()].sort(), ['refresh', 'session'], 'no prefixes without Secure')
  t.equal(c.jar.cookies.get('refresh')?.path, '/api/session')
  t.equal(c.jar.cookies.get('session')?.attributes['secure'], undefined)
  t.equal((await c.request('POST', '/api/session/refresh')).statusCode, 200)
  t.equal((await c.request('GET', '/api/me')).statusCode, 200)
})

test('routes: false registers no auth routes but still checks sessions', async (t) => {
  const app = await embeddingApp(t, { routes: false })
  t.equal((await client(app).request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).statusCode, 404)
  t.equal((await client(app).request('GET', '/api/me')).statusCode, 401)
})

test('an app that registered @fastify/cookie itself keeps its parsed cookies', async (t) => {
  const app = await embeddingApp(t, {}, async (app) => {
    await app.register(fastifyCookie)
    app.get('/api/cookies', async (request) => request.cookies)
  })
  const response = await client(app).request('GET', '/api/cookies', undefined, { cookie: 'theme=dark' })
  t.same(response.json(), { theme: 'dark' })
})

test('exact cookie names: duplicates, case variants and unprefixed look-alikes are no session', async (t) => {
  const app = await embeddingApp(t)
  const c = client(app)
  await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  const token = c.jar.get('__Host-session') as string
  const cases: Array<[string, string, number]> = [
    ['exact', `__Host-session=${token}`, 200],
    ['among other cookies', `a=1; __Host-session=${token}; b=2`, 200],
    ['spaces around', `  __Host-session = ${token} `, 200],
    ['twice, same value', `__Host-session=${token}; __Host-session=${token}`, 401],
    ['twice, one planted', `__Host-session=planted; __Host-session=${token}`, 401],
    ['lower-case prefix', `__host-session=${token}`, 401],
    ['unprefixed', `session=${token}`, 401],
    ['empty', '__Host-session=', 401],
    ['quoted', `__Host-session="${token}"`, 401],
    ['no equals sign', '__Host-session', 401]
  ]
  for (const [name, cookie, status] of cases) {
    t.equal((await app.inject({ method: 'GET', url: '/api/me', headers: { cookie } })).statusCode, status, name)
  }
})

test('the session plugin validates its options and names the one that is wrong', async (t) => {
  const cases: Array<[string, Partial<SessionPluginOptions> | Record<string, unknown>, RegExp]> = [
    ['missing secret', { secret: undefined }, /"secret" must be a string or a Buffer/],
    ['short secret', { secret: 'x'.repeat(31) }, /"secret" is too short: at least 32 bytes of random data are required \(got 31\)/],
    ['weak secret in production', { secret: 'changeme-changeme-changeme-changeme-changeme', production: true }, /"secret" looks weak/],
    ['short previous secret', { previousSecrets: ['short'] }, /"previousSecrets\[0\]" is too short/],
    ['previous secrets not an array', { previousSecrets: 'a,b' }, /"previousSecrets" must be an array/],
    ['no store', { store: undefined }, /"store" must implement the SessionStore interface/],
    ['half a store', { store: { ping: async () => {} } }, /"store" must implement/],
    ['no credential check', { verifyCredentials: undefined }, /"verifyCredentials" must be a function/],
    ['findUser not a function', { findUser: 'x' }, /"findUser" must be a function/],
    ['prefix with trailing slash', { prefix: '/auth/' }, /"prefix" must be a path such as \/auth/],
    ['prefix empty', { prefix: '' }, /"prefix" must be a path such as \/auth, without a trailing slash \(got ""\)/],
    ['issuer a number', { issuer: 42 }, /"issuer" must be a string of 1-256 characters \(got 42\)/],
    ['access ttl fractional', { accessTtlSeconds: 1.5 }, /"accessTtlSeconds" must be an integer from 10 to 86400 \(got 1.5\)/],
    ['access ttl too long', { accessTtlSeconds: 86401 }, /"accessTtlSeconds" must be an integer/],
    ['refresh shorter than access', { accessTtlSeconds: 900, refreshIdleTtlSeconds: 600 }, /"refreshIdleTtlSeconds" must be at least accessTtlSeconds \(900\)/],
    ['max age shorter than access', { accessTtlSeconds: 900, sessionMaxAgeSeconds: 600 }, /"sessionMaxAgeSeconds" must be at least accessTtlSeconds/],
    ['grace as long as access', { accessTtlSeconds: 60, refreshReuseGraceSeconds: 60 }, /"refreshReuseGraceSeconds" must be shorter than accessTtlSeconds \(60\)/],
    ['leeway negative', { clockLeewaySeconds: -1 }, /"clockLeewaySeconds" must be an integer from 0 to 300/],
    ['cookieSecure a string', { cookieSecure: 'false' }, /"cookieSecure" must be a boolean/],
    ['insecure cookies in production', { cookieSecure: false, production: true }, /"cookieSecure" cannot be false in production/],
    ['production a string', { production: 'yes' }, /"production" must be a boolean/],
    ['clock not a function', { clock: 5 }, /"clock" must be a function/],
    ['routes a string', { routes: 'no' }, /"routes" must be a boolean/],
    ['cache size negative', { verifiedTokenCacheSize: -1 }, /"verifiedTokenCacheSize" must be an integer/],
    ['redis key prefix with a space', { redisKeyPrefix: 'a b' }, /"redisKeyPrefix" must be 1-64 characters of A-Z/],
    ['poll interval zero', { revocationPollIntervalMs: 0 }, /"revocationPollIntervalMs" must be an integer/],
    ['issuer null', { issuer: null }, /"issuer" must be a string of 1-256 characters \(got null\)/],
    ['issuer an object', { issuer: { name: 'x' } }, /"issuer" must be a string of 1-256 characters \(got an object\)/],
    ['public origin a number', { publicOrigin: 443 }, /"publicOrigin" must be a string \(got 443\)/],
    ['accounts without its methods', { accounts: { verifyCredentials: async () => null } }, /"accounts" must implement the Accounts interface \(.*\), like the built-in UserDirectory/],
    ['open signup without accounts', { signup: 'open' }, /"signup" can be "open" only with the accounts option/],
    ['isTrustedProxy not a function', { isTrustedProxy: ['10.0.0.1'] }, /"isTrustedProxy" must be a function \(address\) => boolean/]
  ]
  for (const [name, change, message] of cases) {
    const app = Fastify()
    const options = { ...baseOptions(), ...change } as SessionPluginOptions
    const frozen = Object.freeze({ ...options })
    await t.rejects(async () => { await app.register(sessionPlugin, frozen).ready() }, { code: 'ERR_INVALID_OPTION', message }, name)
    await app.close()
  }
})

test('a weak secret outside production boots with a warning; insecure cookies warn too', async (t) => {
  const warnings: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { warnings.push(JSON.parse(line).msg) } } } })
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, baseOptions({ secret: 'changeme-changeme-changeme-changeme-changeme', cookieSecure: false }))
  await app.ready()
  t.same(warnings, ['the session secret looks weak (SESSION_SECRET, or the plugin\'s secret option); production would refuse it', 'cookies are not Secure (COOKIE_SECURE=false): for plain-http development only'])
})

test('a user profile that cannot go into a token is refused at login, with nothing recorded', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', 'ada', /not an object/],
    ['numeric id', { id: 1, username: 'ada', roles: [] }, /id must be a string/],
    ['long username', { id: 'u', username: 'x'.repeat(129), roles: [] }, /username must be a string/],
    ['roles not an array', { id: 'u', username: 'ada', roles: 'admin' }, /roles must be an array/]
  ]
  for (const [name, user, message] of cases) {
    const app = await embeddingApp(t, { verifyCredentials: async () => user as never })
    const response = await client(app).request('POST', '/auth/login', { username: 'ada', password: 'x' })
    t.equal(response.statusCode, 500, name)
    t.equal(response.json().code, 'ERR_INVALID_USER_PROFILE')
    t.match(response.json().message, message)
  }
})

test('a session that would not fit a cookie is refused with its own error and nothing recorded', async (t) => {
  const big = { id: 'u-big', username: 'b'.repeat(128), roles: Array.from({ length: 32 }, (_, i) => `${i}`.padEnd(64, 'r')) }
  const clock = new ManualClock()
  const app = await embeddingApp(t, { verifyCredentials: async () => big, clock: clock.now })
  const response = await client(app).request('POST', '/auth/login', { username: 'big', password: 'x' })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, 'ERR_COOKIE_TOO_LARGE')
  t.match(response.json().message, /\(\d+ bytes, limit 4096\)/)
  t.same(response.headers['set-cookie'], undefined, 'no cookie a browser would silently drop')
  const fits = { ...big, roles: big.roles.slice(0, 8) }
  const ok = await embeddingApp(t, { verifyCredentials: async () => fits })
  t.equal((await client(ok).request('POST', '/auth/login', { username: 'big', password: 'x' })).statusCode, 200, 'control: a smaller profile fits')
})

test('findUser: refresh refuses users it no longer finds', async (t) => {
  let present = true
  const app = await embeddingApp(t, { findUser: async (id) => (present ? { ...USERS['ada']?.user, id } as never : null) })
  const c = client(app)
  await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200)
  present = false
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 401)
  t.ok(verifyCredentials, 'helper in use')
})
