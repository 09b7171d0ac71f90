/** The standalone service with STORE=redis: configuration, boot, startup warnings, errors, shutdown. */
import Fastify from 'fastify'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { errorHandlerFor } from '../../src/http/error-handler.js'
import { healthRoutes } from '../../src/service/health-routes.js'
import { resolveOptions } from '../../src/http/plugin-options.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'
import { openStores } from '../../src/service/open-stores.js'
import { addUser, buildTestApp, FAST_HASH, loggedIn, tempDir, TEST_PASSWORD, TEST_SECRET, testEnv } from '../helper.js'
import { captureLogs } from '../helpers/log-capture.js'
import { freePort, startRedis } from '../helpers/redis-server.js'
import { redisClient } from '../helpers/redis-stores.js'
import { waitFor } from '../helpers/wait-for.js'

test('boot fails with a clear error when Redis cannot be reached', async (t) => {
  const port = await freePort()
  const error = await buildApp({ passwordHashCost: FAST_HASH, env: testEnv({ STORE: 'redis', REDIS_URL: `redis://:pw-secret@127.0.0.1:${port}`, DATA_DIR: tempDir(t) }) })
    .catch((e: unknown) => e) as Error & { code: string }
  t.equal(error.code, 'ERR_STORE_CONNECT')
  t.match(error.message, `Cannot connect to the session store at redis://127.0.0.1:${port}`)
  t.notMatch(error.message, 'pw-secret')
})

test('REDIS_ settings are validated with the rest of the configuration', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_URL: 'http://localhost:6379' }, /REDIS_URL/],
    [{ REDIS_KEY_PREFIX: 'has space' }, /REDIS_KEY_PREFIX/],
    [{ REDIS_MAX_STALENESS_SECONDS: '-1' }, /REDIS_MAX_STALENESS_SECONDS/],
    [{ REDIS_COMMAND_TIMEOUT_MS: '10' }, /REDIS_COMMAND_TIMEOUT_MS/]
  ]
  for (const [env, message] of cases) {
    await t.rejects(buildApp({ env: testEnv({ STORE: 'redis', DATA_DIR: tempDir(t), ...env }) }), { message }, JSON.stringify(env))
  }
})

test('startup: where the store is (no password) and warnings about Redis durability', async (t) => {
  const redis = await startRedis(t, { args: ['--requirepass', 'anything-secret'] })
  const logs = captureLogs()
  await buildTestApp(t, { env: { STORE: 'redis', REDIS_URL: redis.url.replace('redis://', 'redis://:anything-secret@'), REDIS_KEY_PREFIX: 'app1:', LOG_LEVEL: 'info' }, logger: logs.logger })
  t.match(logs.messages('session store opened')[0], { store: 'redis', location: `redis://127.0.0.1:${redis.port} (keys app1:*)` })
  t.equal(logs.lines.filter((l) => l['level'] === 40 && String(l['msg']).startsWith('Redis has no persistence')).length, 1, 'no persistence: warned')
  t.same(logs.lines.filter((l) => JSON.stringify(l).includes('anything-secret')), [], 'the password never reaches a log line')
})

test('openStores exposes the Redis client for plugins that share it (rate limiting), and closes it', async (t) => {
  const redis = await startRedis(t, { aof: true })
  const stores = await openStores({ STORE: 'redis', DATA_DIR: tempDir(t), REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'p:', REDIS_COMMAND_TIMEOUT_MS: 500 })
  t.ok(stores.sessions instanceof RedisSessionStore)
  t.equal(await stores.redis?.ping(), 'PONG')
  t.same(stores.warnings, [], 'AOF and noeviction: nothing to warn about')
  await stores.close()
  await waitFor('the client to end', () => stores.redis?.status, (s) => s === 'end')
  for (const STORE of ['memory', 'sqlite'] as const) {
    const other = await openStores({ STORE, DATA_DIR: tempDir(t), REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'p:', REDIS_COMMAND_TIMEOUT_MS: 500 })
    t.equal(other.redis, undefined, `no client with STORE=${STORE}`)
    t.same(other.warnings, [])
    await other.close()
  }
})

test('graceful shutdown closes every connection, feed included, without an error line', async (t) => {
  const redis = await startRedis(t)
  const admin = await redisClient(t, redis.url)
  const logs = captureLogs('debug')
  const app = await buildApp({ passwordHashCost: FAST_HASH, logger: logs.logger, env: testEnv({ STORE: 'redis', REDIS_URL: redis.url, DATA_DIR: tempDir(t), LOG_LEVEL: 'debug' }) })
  await app.ready()
  const names = async (): Promise<string[]> => (await admin.client('LIST') as string).split('\n').map((l) => /name=(\S*)/.exec(l)?.[1] ?? '').filter((n) => n.startsWith('stateless-session'))
  await waitFor('the feed connection', names, (n) => n.length === 2)
  t.same((await names()).sort(), ['stateless-session', 'stateless-session:feed'])
  await app.close()
  await waitFor('every connection of the service to close', names, (n) => n.length === 0)
  t.same(logs.lines.filter((l) => (l['level'] as number) >= 50), [], 'no error logged while closing')
})

test('requireSession: 401 without a session when the view is fresh', async (t) => {
  const redis = await startRedis(t)
  const app = await buildTestApp(t, { env: { STORE: 'redis', REDIS_URL: redis.url } })
  const response = await app.inject({ url: '/auth/sessions' })
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'ERR_SESSION_INVALID')
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', TEST_PASSWORD)
  t.equal((await c.request('GET', '/auth/sessions')).statusCode, 200)
})

test('the staleness limit of the plugin: 5 s by default for a pushing store, off for a local one, validated', async (t) => {
  const redis = await startRedis(t)
  const client = await redisClient(t, redis.url)
  const base = { secret: TEST_SECRET, verifyCredentials: async () => null }
  t.equal(resolveOptions({ ...base, store: new RedisSessionStore({ client }) }).maxStalenessSeconds, 5, 'Redis store: 5 s')
  t.equal(resolveOptions({ ...base, store: new MemorySessionStore() }).maxStalenessSeconds, 0, 'memory store: off')
  t.equal(resolveOptions({ ...base, store: new RedisSessionStore({ client }), maxStalenessSeconds: 2 }).maxStalenessSeconds, 2, 'as set')
  t.throws(() => resolveOptions({ ...base, store: new MemorySessionStore(), maxStalenessSeconds: -1 }), {
    code: 'ERR_INVALID_OPTION',
    message: 'session plugin option "maxStalenessSeconds" must be an integer from 0 to 3600 (got -1)'
  })
})

test('a Redis failure that reaches the error handler from another plugin is a 503, not a 500', async (t) => {
  const app = Fastify()
  app.setErrorHandler(errorHandlerFor(RedisSessionStore.prototype.isUnavailableError))
  app.get('/counted', async () => { throw new Error("Stream isn't writeable and enableOfflineQueue options is false") })
  app.get('/broken', async () => { throw new Error('a bug') })
  const counted = await app.inject('/counted')
  t.equal(counted.statusCode, 503)
  t.same(counted.json(), { statusCode: 503, code: 'ERR_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The session store is unavailable; try again shortly' })
  t.equal((await app.inject('/broken')).statusCode, 500, 'anything else stays a 500')
})

test('/readyz without the session plugin reports the store only', async (t) => {
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(healthRoutes, { store: new MemorySessionStore() })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', store: 'ok' })
})
