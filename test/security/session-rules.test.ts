/**
 * The session rules of docs/security.md that the adversarial tables do not reach on their own: keys and secrets
 * (rule 7), session fixation (9), parallel refreshes (10), idle and absolute timeouts (11), a fail-closed store
 * (13; kill -9 durability is test/server/kill-9.test.ts), cookie attributes (14), the password hash (22).
 */
import Fastify from 'fastify'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import sessionPlugin from '../../src/http/plugin.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import type { SessionStore } from '../../src/stores/session-store.js'
import { addUser, buildTestApp, client, CookieJar, FAST_HASH, loggedIn, ManualClock, parseSetCookie, setCookieHeaders, tempDir, TEST_PASSWORD, testEnv } from '../helper.js'
import { ACCESS, REFRESH, securityApp } from './kit.js'

test('rule 7: weak or missing secrets stop a production boot; every token gets its own IV', async (t) => {
  for (const [name, secret, message] of [
    ['missing', '', /SESSION_SECRET is required when NODE_ENV=production/],
    ['short', 'x'.repeat(31), /too short/],
    ['a placeholder', 'change-me-change-me-change-me-change-me', /looks weak/],
    ['one character repeated', 'a'.repeat(64), /looks weak/],
    ['ten digits four times', '0123456789'.repeat(4), /looks weak/]
  ] as const) {
    await t.rejects(buildApp({ env: testEnv({ NODE_ENV: 'production', SESSION_SECRET: secret, DATA_DIR: tempDir(t) }) }), { code: 'ERR_INVALID_OPTION', message }, name)
  }
  const { forge, alice, app, clock } = await securityApp(t, { env: { RATE_LIMIT_REFRESH_IP_MAX: '1000' } })
  const ivs = new Set<string>()
  for (let i = 0; i < 100; i++) {
    clock.advance(1)
    await alice.request('POST', '/auth/refresh')
    for (const token of [alice.jar.get(ACCESS) as string, alice.jar.get(REFRESH) as string]) ivs.add(token.split('.')[2] as string)
  }
  t.equal(ivs.size, 200, '200 tokens, 200 IVs')
  t.not(forge.open(alice.jar.get(ACCESS) as string, 'access').outer['kid'], undefined)
  t.equal(typeof app.sessions.authenticate(alice.jar.get(ACCESS) as string), 'object')
})

test('rule 9: login ignores the cookies it is sent: a new family, never an upgraded or planted one', async (t) => {
  const { app, clock } = await securityApp(t, { login: false })
  await addUser(app, 'mallory')
  const browser = await loggedIn(t, app, 'mallory', TEST_PASSWORD, clock)
  const planted = (await browser.request('GET', '/auth/session')).json().session.id as string
  const plantedAccess = browser.jar.get(ACCESS)
  const response = await browser.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  t.equal(response.statusCode, 200)
  t.not(response.json().session.id, planted, 'a new family')
  t.equal(response.json().user.username, 'alice')
  t.not(browser.jar.get(ACCESS), plantedAccess, 'new tokens')
  t.equal((await browser.request('GET', '/auth/session')).json().user.username, 'alice')
})

test('rule 10: parallel refreshes with one token get one successor; the chain never forks', async (t) => {
  const { app, alice, clock, logs, forge } = await securityApp(t)
  clock.advance(30)
  const cookie = `${REFRESH}=${alice.jar.get(REFRESH) as string}`
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie } })))
  t.same(answers.map((a) => a.statusCode), Array(8).fill(200))
  const successors = new Set(answers.map((a) => forge.open(setCookieHeaders(a).map(parseSetCookie).find((c) => c.name === REFRESH)?.value as string, 'refresh').claims['jti']))
  t.equal(successors.size, 1, 'one successor refresh token id for all eight')
  const generations = logs.audits('refresh.succeeded').map((l) => l['generation'])
  t.same([...new Set(generations)], [1], 'every answer is generation 1')
  t.equal(logs.audits('refresh.succeeded').filter((l) => l['replayed'] === false).length, 1, 'one rotation, the rest replays')
})

test('rule 11: idle timeout and absolute lifetime both force a new login', async (t) => {
  const idle = await securityApp(t, { env: { ACCESS_TTL_SECONDS: '60', REFRESH_IDLE_TTL_SECONDS: '600' } })
  idle.clock.advance(601)
  t.equal((await idle.alice.request('POST', '/auth/refresh')).statusCode, 401, 'idle past the refresh lifetime')

  const absolute = await securityApp(t, { env: { ACCESS_TTL_SECONDS: '60', REFRESH_IDLE_TTL_SECONDS: '600', SESSION_MAX_AGE_SECONDS: '900' } })
  for (let i = 0; i < 2; i++) {
    absolute.clock.advance(400)
    const response = await absolute.alice.request('POST', '/auth/refresh')
    t.equal(response.statusCode, 200, `refresh at ${(i + 1) * 400}s`)
    t.ok(Date.parse(response.json().session.refreshExpiresAt) <= (absolute.clock.seconds - (i + 1) * 400 + 900) * 1000, 'never past login + max age')
  }
  absolute.clock.advance(101)
  t.equal((await absolute.alice.request('POST', '/auth/refresh')).statusCode, 401, 'past the absolute lifetime')
})

test('rule 13: a failing store fails closed (503), rotates nothing, and revoked stays revoked', async (t) => {
  let down = false
  const memory = new MemorySessionStore()
  const store = new Proxy(memory, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        if (down) throw new Error('connection lost')
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
      }
    }
  }) as SessionStore
  const clock = new ManualClock()
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, { secret: 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz', store, clock: clock.now, verifyCredentials: async (username) => ({ id: 'u1', username, roles: [] }) })
  const c = client(app, new CookieJar(clock.now))
  t.equal((await c.request('POST', '/auth/login', { username: 'alice', password: 'x' })).statusCode, 200)
  const first = client(app, c.jar.clone())
  t.equal((await first.request('POST', '/auth/logout')).statusCode, 204)
  const revoked = c.jar.clone()
  t.equal((await c.request('POST', '/auth/login', { username: 'alice', password: 'x' })).statusCode, 200)
  down = true
  const refresh = c.jar.get(REFRESH)
  clock.advance(5)
  for (const [method, url] of [['POST', '/auth/login'], ['POST', '/auth/refresh'], ['POST', '/auth/logout'], ['POST', '/auth/logout-all'], ['GET', '/auth/sessions']] as const) {
    const response = await c.request(method, url, url === '/auth/login' ? { username: 'alice', password: 'x' } : undefined)
    t.equal(response.statusCode, 503, `${url}: 503`)
    t.equal(response.json().code, 'ERR_STORE_UNAVAILABLE')
    t.equal(response.headers['set-cookie'], undefined, `${url}: no cookie`)
  }
  t.equal(c.jar.get(REFRESH), refresh, 'nothing rotated')
  t.equal((await client(app, revoked).request('GET', '/auth/session')).statusCode, 401, 'the revoked token stays revoked while the store is down')
  down = false
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'the same refresh token rotates once the store is back')
})

test('rule 14: cookie attributes when set and when cleared', async (t) => {
  const app = await buildTestApp(t, { clock: new ManualClock().now })
  await addUser(app)
  const c = client(app)
  const set = setCookieHeaders(await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).map(parseSetCookie)
  t.match(set, [
    { name: ACCESS, attributes: { path: '/', httponly: true, secure: true, samesite: 'Lax', 'max-age': '900' } },
    { name: REFRESH, attributes: { path: '/auth', httponly: true, secure: true, samesite: 'Strict', 'max-age': '604800' } }
  ])
  for (const cookie of set) {
    t.equal(cookie.attributes['domain'], undefined, `${cookie.name}: no Domain`)
    t.ok(Buffer.byteLength(cookie.name + cookie.value) <= 4096, `${cookie.name}: within 4096 bytes`)
  }
  const cleared = setCookieHeaders(await c.request('POST', '/auth/logout')).map(parseSetCookie)
  t.match(cleared, [
    { name: ACCESS, value: '', attributes: { path: '/', httponly: true, secure: true, samesite: 'Lax' } },
    { name: REFRESH, value: '', attributes: { path: '/auth', httponly: true, secure: true, samesite: 'Strict' } }
  ], 'cleared with the same name, path and attributes')
})

test('rule 22: passwords are stored as argon2id at OWASP\'s cost', async (t) => {
  const app = await buildApp({ env: testEnv({ DATA_DIR: tempDir(t), STORE: 'sqlite' }) })
  t.teardown(async () => await app.close())
  await app.users.add('alice', TEST_PASSWORD)
  const [user] = await app.users.list()
  t.match(user?.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  t.same(FAST_HASH, { memoryCost: 1024, timeCost: 1, parallelism: 1 }, 'only tests lower it')
})
