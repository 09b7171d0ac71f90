/** REDIS_SENTINELS, REDIS_CLUSTER_NODES and REDIS_WAIT_REPLICAS: parsed into the client configuration, bad values refused at boot. */
import { test } from 'tap'
import { redisClientConfig } from '../../src/service/open-stores.js'
import { parseRedisAddress, redisClusterOptions, redisConfigLocation } from '../../src/stores/redis-client.js'
import { buildTestApp } from '../helper.js'

const base = { STORE: 'redis' as const, DATA_DIR: '.', REDIS_URL: 'redis://:s3cret@ignored:6379/2', REDIS_KEY_PREFIX: 'session:', REDIS_COMMAND_TIMEOUT_MS: 1000 }

test('host:port lists', async (t) => {
  t.same(parseRedisAddress('10.0.0.1:26379'), { host: '10.0.0.1', port: 26379 })
  t.same(parseRedisAddress(' sentinel-a.internal:26379 '), { host: 'sentinel-a.internal', port: 26379 })
  t.same(parseRedisAddress('[::1]:7000'), { host: '::1', port: 7000 })
  for (const bad of ['', 'host', 'host:', ':1', 'host:0', 'host:65536', 'host:12:13', 'a b:1', 'redis://host:1']) {
    t.throws(() => parseRedisAddress(bad), TypeError, JSON.stringify(bad))
  }
})

test('the client configuration from the environment', async (t) => {
  t.same(redisClientConfig(base), { url: base.REDIS_URL, commandTimeoutMs: 1000 }, 'one server')
  const sentinel = redisClientConfig({ ...base, REDIS_SENTINELS: ['10.0.0.1:26379', ' 10.0.0.2:26379', ''], REDIS_SENTINEL_NAME: 'sessions' })
  t.same(sentinel, { url: base.REDIS_URL, commandTimeoutMs: 1000, sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], sentinelName: 'sessions', sentinelPassword: '' })
  t.equal(redisConfigLocation(sentinel), 'sentinel sessions via 10.0.0.1:26379,10.0.0.2:26379', 'logged without the password')
  const cluster = redisClientConfig({ ...base, REDIS_URL: 'redis://:s3cret@ignored', REDIS_CLUSTER_NODES: ['10.0.0.1:7000'] })
  t.same(cluster.clusterNodes, [{ host: '10.0.0.1', port: 7000 }])
  t.equal(redisConfigLocation(cluster), 'cluster 10.0.0.1:7000')
  t.match(redisClusterOptions(cluster), { enableOfflineQueue: false, scaleReads: 'master', redisOptions: { password: 's3cret', maxRetriesPerRequest: 0, commandTimeout: 1000 } }, 'fail-fast options and the password reach every node')
  t.throws(() => redisClusterOptions({ ...cluster, url: 'redis://ignored/2' }), /only database 0/)
  t.throws(() => redisClientConfig({ ...base, REDIS_SENTINELS: ['a:1'], REDIS_CLUSTER_NODES: ['b:2'] }), { code: 'ERR_INVALID_OPTION', message: /REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/ })
  t.throws(() => redisClientConfig({ ...base, REDIS_SENTINEL_PASSWORD: 'sentinel-pw' }), { code: 'ERR_INVALID_OPTION', message: 'REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not: set REDIS_SENTINELS (host:port,...) or remove REDIS_SENTINEL_PASSWORD' })
  t.throws(() => redisClientConfig({ ...base, REDIS_SENTINELS: ['10.0.0.1'] }), { code: 'ERR_INVALID_OPTION', message: 'REDIS_SENTINELS: "10.0.0.1" is not host:port (comma-separated list, e.g. 10.0.0.1:26379,10.0.0.2:26379)' })
})

test('the service refuses to boot with a bad Sentinel list or WAIT count, naming the variable', async (t) => {
  await t.rejects(buildTestApp(t, { env: { STORE: 'redis', REDIS_SENTINELS: 'nonsense' } }), { code: 'ERR_INVALID_OPTION', message: /^REDIS_SENTINELS: "nonsense" is not host:port/ })
  await t.rejects(buildTestApp(t, { env: { STORE: 'redis', REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 'b:2' } }), { code: 'ERR_INVALID_OPTION' })
  await t.rejects(buildTestApp(t, { env: { STORE: 'redis', REDIS_WAIT_REPLICAS: '-1' } }), /REDIS_WAIT_REPLICAS/)
})
