/**
 * The `./sqlite`, `./redis` and `./service` subpaths hand out the real implementations (the same objects the rest of the
 * package uses), from the sources; test/package/entry-points.test.ts checks what the built ones load.
 */
import { test } from 'tap'
import * as redisEntry from '../../src/redis.js'
import * as serviceEntry from '../../src/service.js'
import * as sqliteEntry from '../../src/sqlite.js'
import { buildApp } from '../../src/service/app.js'
import { closeRedis, connectRedis } from '../../src/stores/redis-client.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'

test('./sqlite exports the SQLite store and the function that opens its file', async (t) => {
  t.same(Object.keys(sqliteEntry).sort(), ['SqliteSessionStore', 'openSqliteDatabase'])
  t.equal(sqliteEntry.SqliteSessionStore, SqliteSessionStore)
  t.equal(sqliteEntry.openSqliteDatabase, openSqliteDatabase)
})

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
