/**
 * The Redis store on a three-primary Redis Cluster: the whole store contract, the key layout (each user's keys
 * in one slot, users spread over the nodes, the revocation log in one slot), revocations followed through the
 * push feed between two stores, and an interrupted revocation finished by the next call.
 */
import { Cluster } from 'ioredis'
import { readFileSync } from 'node:fs'
import { test, type Test } from 'tap'
import { newId } from '../../src/common/random-id.js'
import { closeRedis, connectRedis, parseRedisAddress } from '../../src/stores/redis-client.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'
import type { Revocation } from '../../src/stores/session-store.js'
import { uniquePrefix } from '../helpers/redis-stores.js'
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { create, family, storeContract } from './contract.js'

const NOW = 1_800_000_000

async function clusterClient (t: Test, cluster: RedisCluster): Promise<Cluster> {
  const client = await connectRedis({ url: 'redis://', commandTimeoutMs: 1000, clusterNodes: cluster.nodes.split(',').map(parseRedisAddress), connectionName: 'test' })
  t.teardown(async () => { await closeRedis(client) })
  return client as Cluster
}

test('Redis store on a three-primary cluster', async (t) => {
  const cluster = await startRedisCluster(t)
  const open = async (t: Test, keyPrefix = uniquePrefix()): Promise<RedisSessionStore> => {
    const store = new RedisSessionStore({ client: await clusterClient(t, cluster), keyPrefix })
    t.teardown(async () => { await store.close() })
    return store
  }

  t.test('contract', async (t) => {
    storeContract(t, {
      open: async (t) => await open(t),
      openPair: async (t) => {
        const keyPrefix = uniquePrefix()
        return [await open(t, keyPrefix), await open(t, keyPrefix)]
      }
    })
  })

  t.test('each user\'s keys share a slot, users spread over the nodes, the log has one slot', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await open(t, keyPrefix)
    const client = await clusterClient(t, cluster)
    const slots = new Set<number>()
    for (let i = 0; i < 30; i++) {
      const f = family({ user: { id: `user-${i}`, username: `u${i}`, roles: [] } })
      await create(store, f)
      await store.revokeSubject({ kind: 'subject', id: `user-${i}`, notBefore: NOW, expiresAt: NOW + 60 }, NOW)
      const keys = [`${keyPrefix}{user-${i}}:family:${f.id}`, `${keyPrefix}{user-${i}}:families`, `${keyPrefix}{user-${i}}:revoked`]
      const keySlots = await Promise.all(keys.map(async (k) => await client.call('CLUSTER', 'KEYSLOT', k) as number))
      t.equal(new Set(keySlots).size, 1, `user-${i}: one slot`)
      t.equal(await client.exists(...keys.slice(0, 1)), 1, `user-${i}: the family is where the layout says`)
      slots.add(keySlots[0] as number)
    }
    const nodes = new Set([...slots].map((slot) => client.slots[slot]?.[0]))
    t.equal(nodes.size, 3, 'thirty users landed on all three primaries')
    t.equal(await client.xlen(`${keyPrefix}{log}:revocations`), 60, 'every revocation in the one log')
  })

  t.test('a revocation made through one store reaches the other\'s push feed', async (t) => {
    const keyPrefix = uniquePrefix()
    const [a, b] = [await open(t, keyPrefix), await open(t, keyPrefix)]
    const f = family()
    await create(a, f)
    const { cursor } = await b.loadRevocations(NOW)
    const waiting = b.waitForRevocations(cursor, 1000, new AbortController().signal)
    await a.revokeFamily(f.id, NOW, f.user.id)
    const batch = await waiting
    t.same(batch.revocations, [{ kind: 'family', id: f.id, expiresAt: f.refreshExpiresAt }])
    t.same(await b.revocationsSince(cursor), { revocations: batch.revocations, cursor: batch.cursor }, 'the same as a plain read')
  })

  t.test('a family revoked in its slot whose log entry was not written is logged by the next call', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await open(t, keyPrefix)
    const client = await clusterClient(t, cluster)
    const expected: Revocation[] = []
    for (const next of ['logout again', 'a refresh with its token', 'ending the user\'s sessions'] as const) {
      const f = family()
      await create(store, f)
      // What an instance that died between the two steps leaves: revoked in the family's slot, not in the log.
      await client.hset(`${keyPrefix}{${f.user.id}}:family:${f.id}`, 'revokedAt', String(NOW))
      t.same((await store.loadRevocations(NOW)).revocations, expected, `${next}: not in the log yet`)
      if (next === 'logout again') await store.revokeFamily(f.id, NOW, f.user.id)
      if (next === 'a refresh with its token') {
        const result = await store.rotate({ familyId: f.id, subject: f.user.id, presentedJti: f.refreshJti, now: NOW, graceSeconds: 10, next: { refreshJti: newId(), accessJti: newId(), refreshExpiresAt: NOW + 10, accessExpiresAt: NOW + 10 } })
        t.equal(result.outcome, 'rejected')
      }
      if (next === 'ending the user\'s sessions') {
        const subject: Revocation = { kind: 'subject', id: f.user.id, notBefore: NOW, expiresAt: NOW + 60 }
        await store.revokeSubject(subject, NOW)
        expected.push(subject)
      }
      expected.push({ kind: 'family', id: f.id, expiresAt: f.refreshExpiresAt })
      t.same(new Set((await store.loadRevocations(NOW)).revocations.map((r) => JSON.stringify(r))), new Set(expected.map((r) => JSON.stringify(r))), `${next}: logged`)
      await store.revokeFamily(f.id, NOW, f.user.id)
      t.equal((await store.loadRevocations(NOW)).revocations.length, expected.length, `${next}: and only once`)
    }
  })

  t.test('family-owner:<id>, the one key without a hash tag: the user id, for a few hours; and in the documented layout', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await open(t, keyPrefix)
    const client = await clusterClient(t, cluster)
    const f = family({ refreshExpiresAt: NOW + 7200, accessExpiresAt: NOW + 60 })
    await create(store, f)
    t.equal(await client.get(`${keyPrefix}family-owner:${f.id}`), f.user.id, 'it holds the user id')
    const ttl = await client.ttl(`${keyPrefix}family-owner:${f.id}`)
    t.ok(ttl > 7200 + 3600 - 5 && ttl <= 7200 + 3600, `it lives the first refresh token's lifetime plus the hour of retention (${ttl} s)`)
    t.ok(await store.revokeFamily(f.id, NOW), 'through it the session is ended by its id alone')
    const keys = (await Promise.all(client.nodes('master').map(async (node) => await node.keys(`${keyPrefix}*`)))).flat()
    const shapes = [...new Set(keys.map((key) => key.slice(keyPrefix.length).replace(`{${f.user.id}}`, '{<user id>}').replace(f.id, '<id>')))].sort()
    t.same(shapes, ['family-owner:<id>', '{<user id>}:families', '{<user id>}:family:<id>', '{log}:revocations'], 'every key a login and a logout by id wrote')
    const deployment = readFileSync(new URL('../../docs/deployment.md', import.meta.url), 'utf8')
    for (const shape of ['family-owner:<id>', '{<user id>}:family:<id>', '{<user id>}:families', '{<user id>}:revoked']) {
      t.match(deployment, `\`<prefix>${shape}\``, `docs/deployment.md names <prefix>${shape}`)
    }
    t.match(deployment, '`family-owner:<id>` (string), the user id of a session', 'and says what family-owner is for')
  })

  t.test('a key prefix with a brace is refused on a cluster', async (t) => {
    const client = await clusterClient(t, cluster)
    t.throws(() => new RedisSessionStore({ client, keyPrefix: '{session}:' }), /holds a brace/)
  })
})
