/**
 * The Redis store through Redis Sentinel: a primary, a replica and three Sentinels on loopback ports. The whole
 * store contract holds, and a write acknowledged with `waitReplicas` is on the replica before the call returns.
 */
import { test } from 'tap'
import { closeRedis, connectRedis, isRedisUnavailableError, ReplicaWaitError, type Redis } from '../../src/stores/redis-client.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'
import { parseRedisAddress } from '../../src/stores/redis-client.js'
import { redisClient, uniquePrefix } from '../helpers/redis-stores.js'
import { SENTINEL_NAME, startSentinelSet } from '../helpers/redis-sentinel.js'
import { create, family, storeContract } from './contract.js'
import type { Test } from 'tap'

const NOW = 1_800_000_000

async function sentinelClient (t: Test, sentinels: string): Promise<Redis> {
  const client = await connectRedis({ url: 'redis://', commandTimeoutMs: 1000, sentinels: sentinels.split(',').map(parseRedisAddress), sentinelName: SENTINEL_NAME, connectionName: 'test' })
  t.teardown(async () => { await closeRedis(client) })
  return client as Redis
}

test('Redis store contract through Sentinel (primary, replica, three Sentinels)', async (t) => {
  const set = await startSentinelSet(t)
  const open = async (t: Test, keyPrefix = uniquePrefix(), waitReplicas = 0): Promise<RedisSessionStore> => {
    const store = new RedisSessionStore({ client: await sentinelClient(t, set.sentinels), keyPrefix, waitReplicas })
    t.teardown(async () => { await store.close() })
    return store
  }

  t.test('the client reaches the primary the Sentinels name', async (t) => {
    const client = await sentinelClient(t, set.sentinels)
    t.equal(await set.primaryPort(), set.primary.port)
    t.match(await client.info('server'), `tcp_port:${set.primary.port}`)
  })

  t.test('contract', async (t) => {
    storeContract(t, {
      open: async (t) => await open(t),
      openPair: async (t) => {
        const keyPrefix = uniquePrefix()
        return [await open(t, keyPrefix), await open(t, keyPrefix)]
      }
    })
  })

  t.test('contract, every write acknowledged by the replica (waitReplicas 1)', async (t) => {
    storeContract(t, {
      open: async (t) => await open(t, uniquePrefix(), 1),
      openPair: async (t) => {
        const keyPrefix = uniquePrefix()
        return [await open(t, keyPrefix, 1), await open(t, keyPrefix, 1)]
      }
    })
  })

  t.test('with waitReplicas, an acknowledged revocation is already on the replica', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await open(t, keyPrefix, 1)
    const replica = await redisClient(t, set.replica.url)
    for (let i = 0; i < 20; i++) {
      const f = family()
      await create(store, f)
      await store.revokeFamily(f.id, NOW)
      // Read on the replica right after the call returned: no waiting.
      t.equal(await replica.hget(`${keyPrefix}family:${f.id}`, 'revokedAt'), String(NOW), `revocation ${i} on the replica`)
    }
    const log = await replica.xrange(`${keyPrefix}revocations`, '-', '+')
    t.equal(log.length, 20, 'and every log entry')
  })

  t.test('asking for more replicas than answer: the write is refused as "store unavailable"', async (t) => {
    const store = await open(t, uniquePrefix(), 2)
    const error = await store.revokeToken({ kind: 'token', id: 'x', expiresAt: NOW }).catch((e: unknown) => e)
    t.ok(error instanceof ReplicaWaitError, 'ReplicaWaitError')
    t.match((error as Error).message, 'reached 1 of the 2 replicas')
    t.ok(isRedisUnavailableError(error), 'answered 503')
    t.ok(store.isUnavailableError(error))
  })
})
