/**
 * The `./redis` and `./service` subpaths hand out the real implementations (the same objects the rest of the
 * package uses), from the sources; test/package/entry-points.test.ts checks what the built ones load.
 */
import { test } from 'tap'
import * as redisEntry from '../../src/redis.js'
import * as serviceEntry from '../../src/service.js'
import { buildApp } from '../../src/service/app.js'
import { closeRedis, connectRedis } from '../../src/stores/redis-client.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'

test('./redis exports the Redis store and its client helpers', async (t) => {
  t.same(Object.keys(redisEntry).sort(), ['RedisSessionStore', 'closeRedis', 'connectRedis'])
  t.equal(redisEntry.RedisSessionStore, RedisSessionStore)
  t.equal(redisEntry.connectRedis, connectRedis)
  t.equal(redisEntry.closeRedis, closeRedis)
})

test('./service exports the app factory and the metrics listener', async (t) => {
  t.same(Object.keys(serviceEntry).sort(), ['buildApp', 'listenMetrics'])
  t.equal(serviceEntry.buildApp, buildApp)
})
