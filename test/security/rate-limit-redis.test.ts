/**
 * With a Redis client (STORE=redis), the rate-limit counters live in Redis: every instance counts the same
 * failures. A private redis-server on a free port, stopped mid-test: the limits then fail closed (503).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { test, type Test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { accountKey, redisNamespace } from '../../src/http/rate-limits.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { TEST_SECRET } from '../helper.js'
import { startRedis } from '../helpers/redis-server.js'

async function client (t: Test, port: number): Promise<Redis> {
  // Fail fast while Redis is away, as a service client should (no offline queue, no retries per command).
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  t.teardown(() => { redis.disconnect() })
  await redis.connect()
  return redis
}

async function instance (t: Test, redis: Redis, redisKeyPrefix?: string): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, {
    secret: TEST_SECRET,
    store: new MemorySessionStore(),
    verifyCredentials: async (username, password) => password === 'right password' ? { id: 'u1', username, roles: [] } : null,
    redis,
    ...(redisKeyPrefix === undefined ? {} : { redisKeyPrefix }),
    rateLimit: { loginAccountMax: 3, loginWindowSeconds: 600 }
  })
  await app.ready()
  return app
}

async function login (app: FastifyInstance, password: string): Promise<number> {
  const response = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: { username: 'alice', password } })
  return response.statusCode
}

test('two instances count failures together in Redis; the window is a Redis TTL; Redis down means 503', async (t) => {
  const server = await startRedis(t)
  const redisA = await client(t, server.port)
  const a = await instance(t, redisA)
  const b = await instance(t, await client(t, server.port))

  t.equal(await login(a, 'wrong'), 401)
  t.equal(await login(b, 'wrong'), 401)
  t.equal(await login(a, 'wrong'), 401)
  t.equal(await login(b, 'right password'), 429, 'the third failure, on the other instance, reached the limit')
  t.equal(await login(a, 'right password'), 429)

  const keys = await redisA.keys(`${redisNamespace('stateless-session:')}*`)
  t.equal(keys.length, 2, 'one counter for the account, one for the client')
  for (const key of keys) {
    t.notMatch(key, /alice/, 'no username in a key')
    const ttl = await redisA.pttl(key)
    t.ok(ttl > 590_000 && ttl <= 600_000, `${key} expires with the window (${ttl} ms)`)
  }
  await redisA.del(...keys)
  t.equal(await login(b, 'right password'), 200, 'once the counters are gone, the limit is gone')

  await server.kill()
  const down = await a.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: { username: 'alice', password: 'right password' } })
  t.equal(down.statusCode, 503, 'no counter, no login: fail closed')
  t.equal(down.json().code, 'ERR_STORE_UNAVAILABLE')
  const refresh = await a.inject({ method: 'POST', url: '/auth/refresh' })
  t.equal(refresh.statusCode, 503)
})

test('deployments sharing one Redis count apart under their own key prefix', async (t) => {
  const server = await startRedis(t)
  const redis = await client(t, server.port)
  const tenantA = await instance(t, redis, 'tenant-a:')
  const tenantB = await instance(t, await client(t, server.port), 'tenant-b:')
  for (let i = 0; i < 3; i++) t.equal(await login(tenantA, 'wrong'), 401)
  t.equal(await login(tenantA, 'right password'), 429, 'tenant A reached its limit')
  t.equal(await login(tenantB, 'right password'), 200, 'tenant B has its own counters')
  t.equal((await redis.keys('tenant-a:rate-limit:*')).length, 2)
  t.same(await redis.keys('stateless-session:*'), [], 'nothing under the default prefix')
})

test('each counter\'s key says what it counts: <prefix>rate-limit:<limit>:<account hash or client>', async (t) => {
  const server = await startRedis(t)
  const redis = await client(t, server.port)
  const app = await instance(t, redis)
  t.equal(await login(app, 'wrong'), 401)
  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh' })).statusCode, 401, 'a refresh without a cookie is counted too')
  const keys: string[] = []
  for (let cursor = '0'; ;) {
    const [next, found] = await redis.scan(cursor, 'MATCH', '*', 'COUNT', 100)
    keys.push(...found)
    cursor = next
    if (cursor === '0') break
  }
  t.same(keys.sort(), [
    `stateless-session:rate-limit:login-account:${accountKey('alice')}`,
    'stateless-session:rate-limit:login-ip:127.0.0.1',
    'stateless-session:rate-limit:refresh-ip:127.0.0.1'
  ], 'every key in Redis, and nothing made of undefined values')
  t.equal(await redis.get('stateless-session:rate-limit:login-ip:127.0.0.1'), '1', 'one failure counted')
  const ttl = await redis.pttl('stateless-session:rate-limit:refresh-ip:127.0.0.1')
  t.ok(ttl > 0 && ttl <= 60_000, `the refresh window is the key's expiry (${ttl} ms)`)
})
