/**
 * Login abuse (docs/security.md rule 20): failed logins are limited per account and per client IP, refreshes per
 * client IP; 429 ERR_RATE_LIMITED with Retry-After and an audit line; time-boxed (the window ends on its own,
 * refused attempts do not extend it); the client IP comes from X-Forwarded-For only through TRUST_PROXY.
 */
import { test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { accountKey, MemoryRateLimitStore } from '../../src/http/rate-limits.js'
import { addUser, TEST_PASSWORD } from '../helper.js'
import { ACCESS, REFRESH, securityApp } from './kit.js'

const WRONG = 'not the password'

async function login (app: FastifyInstance, username: string, password: string, remoteAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/auth/login', remoteAddress, headers: { 'content-type': 'application/json', ...headers }, payload: { username, password } })
}

test('defaults: 10 failures per account per 15 minutes, then 429 with Retry-After, even for the right password', async (t) => {
  const { app, clock, logs } = await securityApp(t, { login: false })
  for (let i = 0; i < 10; i++) {
    t.equal((await login(app, 'alice', WRONG, `192.0.2.${i}`)).statusCode, 401, `failure ${i + 1} from its own address`)
    clock.advance(10)
  }
  const refused = await login(app, 'alice', TEST_PASSWORD, '198.51.100.1')
  t.equal(refused.statusCode, 429, 'the account is throttled, whoever asks')
  t.same(refused.json(), { statusCode: 429, code: 'ERR_RATE_LIMITED', error: 'Too Many Requests', message: 'Too many attempts; retry later' })
  t.equal(refused.headers['retry-after'], String(900 - 100), 'Retry-After: until the window ends')
  t.equal(refused.headers['set-cookie'], undefined)
  t.match(logs.audits('login.rate_limited'), [{ username: 'alice', scope: 'account', ip: '198.51.100.1', level: 40 }])

  await addUser(app, 'bob')
  t.equal((await login(app, 'bob', TEST_PASSWORD, '198.51.100.1')).statusCode, 200, 'other accounts are not affected')

  // Refused attempts during the window neither count nor extend it.
  clock.advance(700)
  t.equal((await login(app, 'alice', TEST_PASSWORD)).statusCode, 429)
  t.equal((await login(app, 'alice', TEST_PASSWORD)).headers['retry-after'], '100')
  clock.advance(100)
  t.equal((await login(app, 'alice', TEST_PASSWORD)).statusCode, 200, 'the window ends 15 minutes after its first failure')
})

test('the account is the normalised username: case, spaces and compatibility forms count together', async (t) => {
  const { app } = await securityApp(t, { login: false, env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '4' } })
  for (const name of ['alice', 'ALICE', ' Alice ', '\uff41\uff4c\uff49\uff43\uff45']) {
    t.equal((await login(app, name, WRONG)).statusCode, 401, JSON.stringify(name))
  }
  t.equal((await login(app, 'aLiCe', TEST_PASSWORD)).statusCode, 429, 'the fifth attempt on the same account is refused')
  t.equal(accountKey('ALICE'), accountKey('alice'))
  t.not(accountKey('alice'), accountKey('alice2'))
  t.notMatch(accountKey('alice'), /alice/, 'the key does not hold the username')
})

test('defaults: 100 failures per client IP per 15 minutes over all accounts, unknown users included', async (t) => {
  const { app, clock, logs } = await securityApp(t, { login: false })
  for (let i = 0; i < 100; i++) {
    const response = await login(app, `nobody${i}`, WRONG, '203.0.113.5')
    if (response.statusCode !== 401) t.fail(`failure ${i + 1}: ${response.statusCode}`)
  }
  const refused = await login(app, 'alice', TEST_PASSWORD, '203.0.113.5')
  t.equal(refused.statusCode, 429, 'the client is throttled, even for a correct login')
  t.equal(refused.json().code, 'ERR_RATE_LIMITED')
  t.equal(refused.headers['retry-after'], '900')
  t.match(logs.audits('login.rate_limited').at(-1), { scope: 'ip', ip: '203.0.113.5', username: 'alice' })
  t.equal((await login(app, 'alice', TEST_PASSWORD, '203.0.113.6')).statusCode, 200, 'another client is not')
  clock.advance(900)
  t.equal((await login(app, 'alice', TEST_PASSWORD, '203.0.113.5')).statusCode, 200, 'time-boxed')
})

test('only failures count: successes, many users behind one address, never block anyone', async (t) => {
  const { app } = await securityApp(t, { login: false, env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '2', RATE_LIMIT_LOGIN_IP_MAX: '3' } })
  const users = ['bob', 'carol', 'dave', 'erin', 'frank']
  for (const user of users) await addUser(app, user)
  for (let round = 0; round < 4; round++) {
    for (const user of ['alice', ...users]) {
      t.equal((await login(app, user, TEST_PASSWORD, '198.51.100.20')).statusCode, 200, `${user}, round ${round}`)
    }
  }
  t.equal((await login(app, 'alice', WRONG, '198.51.100.20')).statusCode, 401)
  t.equal((await login(app, 'alice', TEST_PASSWORD, '198.51.100.20')).statusCode, 200, 'a success after a failure does not count either')
  t.equal((await login(app, 'alice', WRONG, '198.51.100.20')).statusCode, 401)
  t.equal((await login(app, 'alice', TEST_PASSWORD, '198.51.100.20')).statusCode, 429, 'two failures: the account limit')
})

test('parallel guesses cannot slip past the limit', async (t) => {
  const { app } = await securityApp(t, { login: false, env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '3' } })
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await login(app, 'alice', `${WRONG} ${i}`, `192.0.2.${i}`)).statusCode))
  t.equal(answers.filter((s) => s === 401).length, 3, 'exactly the limit got a password check')
  t.equal(answers.filter((s) => s === 429).length, 17, 'the rest were refused')
})

test('forwarded headers count only from TRUST_PROXY; spoofed ones from anyone else change nothing', async (t) => {
  await t.test('no trusted proxy: X-Forwarded-For, X-Real-IP and Forwarded are ignored', async (t) => {
    const { app } = await securityApp(t, { login: false, env: { RATE_LIMIT_LOGIN_IP_MAX: '3' } })
    const spoofs = [{ 'x-forwarded-for': '1.1.1.1' }, { 'x-real-ip': '2.2.2.2' }, { forwarded: 'for=3.3.3.3' }]
    for (const [i, headers] of spoofs.entries()) t.equal((await login(app, `u${i}`, WRONG, '203.0.113.1', headers)).statusCode, 401)
    t.equal((await login(app, 'alice', TEST_PASSWORD, '203.0.113.1', { 'x-forwarded-for': '4.4.4.4' })).statusCode, 429, 'still the same client')
  })
  await t.test('a trusted proxy: the forwarded client counts, not the proxy, and a spoofed left part of the chain is ignored', async (t) => {
    const { app, logs } = await securityApp(t, { login: false, env: { RATE_LIMIT_LOGIN_IP_MAX: '2', TRUST_PROXY: '10.0.0.1, 10.0.0.2' } })
    const viaProxy = (chain: string) => ({ 'x-forwarded-for': chain })
    t.equal((await login(app, 'a', WRONG, '10.0.0.1', viaProxy('198.51.100.7'))).statusCode, 401)
    t.equal((await login(app, 'b', WRONG, '10.0.0.1', viaProxy('9.9.9.9, 198.51.100.7'))).statusCode, 401, 'a spoofed hop before the real client')
    t.equal((await login(app, 'alice', TEST_PASSWORD, '10.0.0.1', viaProxy('8.8.8.8, 198.51.100.7, 10.0.0.2'))).statusCode, 429, 'through two proxies: the same client')
    t.equal((await login(app, 'alice', TEST_PASSWORD, '10.0.0.1', viaProxy('198.51.100.8'))).statusCode, 200, 'another client behind the proxy')
    t.equal((await login(app, 'alice', TEST_PASSWORD, '10.0.0.1', { forwarded: 'for=198.51.100.9', 'x-forwarded-for': '198.51.100.7' })).statusCode, 429, 'Forwarded is not read')
    t.match(logs.audits('login.rate_limited').at(-1), { ip: '198.51.100.7' })
  })
})

test('IPv6 clients count per /64', async (t) => {
  const { app } = await securityApp(t, { login: false, env: { RATE_LIMIT_LOGIN_IP_MAX: '2' } })
  t.equal((await login(app, 'a', WRONG, '2001:db8:1:2::1')).statusCode, 401)
  t.equal((await login(app, 'b', WRONG, '2001:db8:1:2:ffff::9')).statusCode, 401)
  t.equal((await login(app, 'alice', TEST_PASSWORD, '2001:db8:1:2:abcd::1')).statusCode, 429, 'same /64')
  t.equal((await login(app, 'alice', TEST_PASSWORD, '2001:db8:1:3::1')).statusCode, 200, 'another /64')
  t.equal((await login(app, 'c', WRONG, '::ffff:192.0.2.1')).statusCode, 401)
  t.equal((await login(app, 'd', WRONG, '192.0.2.1')).statusCode, 401)
  t.equal((await login(app, 'alice', TEST_PASSWORD, '::ffff:192.0.2.1')).statusCode, 429, 'an IPv4-mapped address is its IPv4 address')
})

test('refresh: a looser per-client limit, 429 with Retry-After, nothing rotated', async (t) => {
  const { app, alice, clock, logs } = await securityApp(t, { env: { RATE_LIMIT_REFRESH_IP_MAX: '3', RATE_LIMIT_REFRESH_WINDOW_SECONDS: '60' } })
  for (let i = 0; i < 3; i++) {
    clock.advance(1)
    t.equal((await alice.request('POST', '/auth/refresh')).statusCode, 200, `refresh ${i + 1}`)
  }
  const before = { access: alice.jar.get(ACCESS), refresh: alice.jar.get(REFRESH) }
  const refused = await alice.request('POST', '/auth/refresh')
  t.equal(refused.statusCode, 429)
  t.equal(refused.json().code, 'ERR_RATE_LIMITED')
  t.equal(refused.headers['retry-after'], '58', 'the window started at the first refresh')
  t.equal(refused.headers['set-cookie'], undefined, 'no cookie set or cleared')
  t.same({ access: alice.jar.get(ACCESS), refresh: alice.jar.get(REFRESH) }, before)
  t.match(logs.audits('refresh.rate_limited'), [{ scope: 'ip', ip: '127.0.0.1', level: 40 }])
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh', remoteAddress: '198.51.100.1' })).statusCode, 401, 'other clients are not limited')
  clock.advance(58)
  t.equal((await alice.request('POST', '/auth/refresh')).statusCode, 200, 'the same refresh token rotates once the window is over')
  t.equal(logs.audits('refresh.reuse_detected').length, 0)
})

test('the in-memory counter store: fixed windows on the injected clock, bounded', async (t) => {
  let now = 0
  const store = new MemoryRateLimitStore(() => now, 3)
  const incr = (key: string) => new Promise((resolve) => { store.incr(key, (_e, r) => { resolve(r) }, 1000) })
  const read = (key: string) => new Promise((resolve) => { store.read(key, (_e, r) => { resolve(r) }, 1000) })
  t.same(await read('a'), { current: 0, ttl: 0 })
  t.same(await incr('a'), { current: 1, ttl: 1000 })
  now = 400
  t.same(await incr('a'), { current: 2, ttl: 600 })
  t.same(await read('a'), { current: 2, ttl: 600 })
  await incr('b')
  await incr('c')
  t.equal(store.size, 3)
  await incr('d')
  t.equal(store.size, 3, 'full: the oldest window goes')
  t.same(await read('a'), { current: 0, ttl: 0 }, 'a was the oldest')
  now = 1400
  t.same(await read('b'), { current: 0, ttl: 0 }, 'expired')
  t.same(await incr('e'), { current: 1, ttl: 1000 })
  t.equal(store.size, 1, 'expired windows are dropped as new ones start')
  t.not(store.child(), store)
})
