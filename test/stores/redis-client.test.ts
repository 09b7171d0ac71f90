import { ReplyError } from 'ioredis'
import { test } from 'tap'
import { closeRedis, connectRedis, isRedisUnavailableError, LuaScript, redisDurabilityWarnings, redisLocation } from '../../src/stores/redis-client.js'
import { freePort, startRedis } from '../helpers/redis-server.js'
import { redisClient } from '../helpers/redis-stores.js'
import { waitFor } from '../helpers/wait-for.js'

test('redisLocation shows where, never the credentials', async (t) => {
  t.equal(redisLocation('redis://user:s3cret@db.internal:6380/2'), 'redis://db.internal:6380/2')
  t.equal(redisLocation('rediss://:s3cret@cache.example'), 'rediss://cache.example')
  t.equal(redisLocation('redis://localhost:6379/'), 'redis://localhost:6379')
  t.equal(redisLocation('::not a url::s3cret'), '(unparsable REDIS_URL)')
})

test('connecting to nothing fails at once with a clear, password-free error', async (t) => {
  const port = await freePort()
  const error = await connectRedis({ url: `redis://:hunter2-password@127.0.0.1:${port}`, commandTimeoutMs: 200 }).catch((e: unknown) => e) as Error & { code: string }
  t.equal(error.code, 'ERR_STORE_CONNECT')
  t.equal(error.message, `Cannot connect to the session store at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`, 'says why: refused (ioredis\'s own rejection says only "Connection is closed.")')
  t.notMatch(error.message, 'hunter2')
})

test('which errors mean "Redis unavailable" (503) and which do not', async (t) => {
  const unavailable = [
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    new Error('Connection is closed.'),
    new Error('Command timed out'),
    new Error('Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.'),
    new ReplyError('LOADING Redis is loading the dataset in memory'),
    new ReplyError('READONLY You can\'t write against a read only replica.'),
    new ReplyError('OOM command not allowed when used memory > \'maxmemory\'.'),
    new ReplyError('MISCONF Redis is configured to save RDB snapshots, but it\'s currently unable to persist to disk.')
  ]
  for (const error of unavailable) t.ok(isRedisUnavailableError(error), error.message)
  const others = [
    new Error('something else'),
    new ReplyError('ERR wrong number of arguments'),
    new ReplyError('NOSCRIPT No matching script'),
    'Connection is closed.',
    null
  ]
  for (const error of others) t.notOk(isRedisUnavailableError(error), String(error))
})

test('a Lua script is sent in full when the server does not know it, by its SHA afterwards', async (t) => {
  const redis = await startRedis(t)
  const client = await redisClient(t, redis.url)
  const script = new LuaScript('return ARGV[1] .. "!"')
  await client.script('FLUSH')
  t.equal(await script.run(client, ['hello']), 'hello!', 'NOSCRIPT: sent in full')
  t.equal(await script.run(client, ['again']), 'again!', 'by its SHA')
  await t.rejects(new LuaScript('return redis.call("NOPE")').run(client, []), /Unknown Redis command|unknown command/i, 'other errors pass through')
})

test('durability warnings read from the server\'s configuration', async (t) => {
  const cases: Array<[string, { aof?: boolean, args?: string[] }, RegExp[]]> = [
    ['no persistence', {}, [/^Redis has no persistence \(appendonly no, no RDB save\)/]],
    ['RDB snapshots only', { args: ['--save', '60 1'] }, [/^Redis runs without AOF \(appendonly no\)/]],
    ['AOF', { aof: true }, []],
    ['AOF with eviction', { aof: true, args: ['--maxmemory-policy', 'allkeys-lru'] }, [/^Redis maxmemory-policy is allkeys-lru/]],
    ['CONFIG disabled (managed services)', { args: ['--rename-command', 'CONFIG', ''] }, []]
  ]
  for (const [name, options, expected] of cases) {
    const redis = await startRedis(t, options)
    const client = await redisClient(t, redis.url)
    const warnings = await redisDurabilityWarnings(client)
    t.equal(warnings.length, expected.length, name)
    expected.forEach((pattern, i) => t.match(warnings[i], pattern, name))
  }
})

test('closing: politely when connected, at once otherwise, never throwing', async (t) => {
  const redis = await startRedis(t)
  const connected = await connectRedis({ url: redis.url, commandTimeoutMs: 100 })
  await closeRedis(connected)
  await waitFor('the connection to end', () => connected.status, (s) => s === 'end')
  await closeRedis(connected)
  t.equal(connected.status, 'end', 'closing twice is harmless')

  const hung = await connectRedis({ url: redis.url, commandTimeoutMs: 100 })
  const pid = redis.process?.pid as number
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => { try { process.kill(pid, 'SIGCONT') } catch {} })
  await closeRedis(hung)
  t.pass('quit timed out, and closeRedis returned anyway')
  process.kill(pid, 'SIGCONT')
  await waitFor('the connection to end', () => hung.status, (s) => s === 'end')
})

test('a write refused by a read-only replica (after a failover) is a 503 and makes the client reconnect', async (t) => {
  const primary = await startRedis(t)
  const replica = await startRedis(t, { args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  const client = await redisClient(t, replica.url)
  let reconnections = 0
  client.on('reconnecting', () => { reconnections++ })
  const error = await client.set('k', 'v').catch((e: unknown) => e)
  t.ok(isRedisUnavailableError(error), 'READONLY is "unavailable"')
  await waitFor('the client to reconnect', () => reconnections, (n) => n > 0)
  await waitFor('the client to be ready again', () => client.status, (s) => s === 'ready')
  t.equal(await client.get('k'), null, 'the write was not re-sent')
})
