/** The user store behaves the same in memory, in SQLite and in Redis. */
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { RedisUserStore } from '../../src/users/redis-user-store.js'
import { MemoryUserStore, type UserRecord, type UserStore } from '../../src/users/user-store.js'
import { SqliteUserStore } from '../../src/users/sqlite-user-store.js'
import { tempDir } from '../helper.js'
import { startRedis } from '../helpers/redis-server.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { closeRedis, connectRedis, parseRedisAddress } from '../../src/stores/redis-client.js'
import { redisClient, uniquePrefix } from '../helpers/redis-stores.js'

function user (overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: `id-${Math.random().toString(36).slice(2)}`,
    username: 'alice',
    passwordHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    roles: ['reader'],
    disabled: false,
    createdAt: 1_800_000_000,
    updatedAt: 1_800_000_000,
    ...overrides
  }
}

function userStoreContract (t: Test, open: (t: Test) => Promise<UserStore>): void {
  t.test('insert, then find by id and by name in any ASCII case', async (t) => {
    const store = await open(t)
    const alice = user({ username: 'Alice.Smith', roles: [] })
    await store.insert(alice)
    t.same(await store.findById(alice.id), alice)
    t.same(await store.findByUsername('alice.smith'), alice)
    t.same(await store.findByUsername('ALICE.SMITH'), alice)
    t.equal(await store.findByUsername('bob'), undefined)
    t.equal(await store.findById('nobody'), undefined)
  })

  t.test('a taken name is refused, whatever its case', async (t) => {
    const store = await open(t)
    await store.insert(user({ username: 'carol' }))
    await t.rejects(store.insert(user({ username: 'CAROL' })), { code: 'ERR_USER_EXISTS', message: 'A user named "CAROL" already exists' })
    t.equal((await store.list()).length, 1, 'nothing half-written')
  })

  t.test('update patches the given fields and the update time', async (t) => {
    const store = await open(t)
    const dave = user({ username: 'dave' })
    await store.insert(dave)
    t.equal(await store.update(dave.id, { roles: ['admin', 'ops'] }, dave.createdAt + 5), 'done')
    t.equal(await store.update(dave.id, { disabled: true, passwordHash: 'new-hash' }, dave.createdAt + 9), 'done')
    t.same(await store.findById(dave.id), { ...dave, roles: ['admin', 'ops'], disabled: true, passwordHash: 'new-hash', updatedAt: dave.createdAt + 9 })
    t.equal(await store.update(dave.id, { disabled: false }, dave.createdAt + 10), 'done')
    t.equal((await store.findById(dave.id))?.disabled, false)
    t.equal(await store.update('nobody', { disabled: true }, 0), 'not-found', 'no such user')
    const disabled = user({ username: 'eve', disabled: true })
    await store.insert(disabled)
    t.same(await store.findByUsername('eve'), disabled, 'inserted disabled')
  })

  t.test('list: by creation time', async (t) => {
    const store = await open(t)
    t.same(await store.list(), [])
    const late = user({ username: 'zed', createdAt: 1_800_000_010 })
    const early = user({ username: 'yan', createdAt: 1_800_000_000 })
    for (const u of [late, early]) await store.insert(u)
    t.same((await store.list()).map((u) => u.username), ['yan', 'zed'])
  })

  t.test('delete: the user, its name (free again) and its place in the list', async (t) => {
    const store = await open(t)
    const gus = user({ username: 'Gus' })
    await store.insert(gus)
    t.equal(await store.delete(gus.id), 'done')
    t.equal(await store.findById(gus.id), undefined)
    t.equal(await store.findByUsername('gus'), undefined)
    t.same(await store.list(), [])
    t.equal(await store.delete(gus.id), 'not-found')
    await store.insert(user({ username: 'gus' }))
    t.equal((await store.list()).length, 1, 'the name can be taken again')
  })

  t.test('page: oldest first, search ignoring case and matching literally, total over all pages', async (t) => {
    const store = await open(t)
    const names = ['ann', 'Bob', 'bobby', 'carl', 'rob_b', 'rob%x', 'dave']
    for (const [i, username] of names.entries()) await store.insert(user({ username, createdAt: 1_800_000_000 + i }))
    t.same(await store.page({ offset: 0, limit: 2 }).then((p) => [p.users.map((u) => u.username), p.total]), [['ann', 'Bob'], 7])
    t.same(await store.page({ offset: 6, limit: 5 }).then((p) => [p.users.map((u) => u.username), p.total]), [['dave'], 7])
    t.same(await store.page({ offset: 10, limit: 5 }).then((p) => [p.users.length, p.total]), [0, 7])
    t.same(await store.page({ search: 'BOB', offset: 0, limit: 10 }).then((p) => [p.users.map((u) => u.username), p.total]), [['Bob', 'bobby'], 2])
    t.same(await store.page({ search: 'ob', offset: 1, limit: 10 }).then((p) => [p.users.map((u) => u.username), p.total]), [['bobby', 'rob_b', 'rob%x'], 4])
    t.same(await store.page({ search: '_', offset: 0, limit: 10 }).then((p) => p.users.map((u) => u.username)), ['rob_b'], '_ is not a wildcard')
    t.same(await store.page({ search: '%', offset: 0, limit: 10 }).then((p) => p.users.map((u) => u.username)), ['rob%x'], '% is not a wildcard')
  })

  t.test('the role guard keeps one enabled holder of the role, whatever the change', async (t) => {
    const store = await open(t)
    const guard = { keepRole: 'admin' }
    const a = user({ username: 'a', roles: ['admin'] })
    const b = user({ username: 'b', roles: ['admin', 'ops'] })
    const off = user({ username: 'off', roles: ['admin'], disabled: true })
    const plain = user({ username: 'plain', roles: [] })
    for (const u of [a, b, off, plain]) await store.insert(u)
    t.equal(await store.update(a.id, { roles: [] }, 1, guard), 'done', 'another enabled admin is left')
    t.equal(await store.update(b.id, { roles: ['ops'] }, 2, guard), 'last-holder', 'the last enabled admin keeps the role')
    t.equal(await store.update(b.id, { disabled: true }, 2, guard), 'last-holder', 'and is not disabled')
    t.equal(await store.delete(b.id, guard), 'last-holder', 'nor deleted')
    t.same((await store.findById(b.id))?.roles, ['admin', 'ops'], 'nothing changed')
    t.equal(await store.update(b.id, { roles: ['admin'], passwordHash: 'x' }, 3, guard), 'done', 'a change that keeps the role passes')
    t.equal(await store.update(b.id, { roles: [] }, 3), 'done', 'without a guard, nothing is checked (the users CLI)')
    t.equal(await store.update(plain.id, { disabled: true }, 4, guard), 'done', 'a user without the role is never held back')
    t.equal(await store.delete(off.id, guard), 'done', 'nor a disabled holder')
    t.equal(await store.update(a.id, { roles: ['admin'] }, 5, guard), 'done')
    t.equal(await store.update(b.id, { roles: ['admin'] }, 6, guard), 'done')
    const racing = await Promise.all([store.update(a.id, { roles: [] }, 7, guard), store.update(b.id, { disabled: true }, 7, guard)])
    t.same([...racing].sort(), ['done', 'last-holder'], 'two admins demoting each other at once: one is refused')
  })

  t.test('second factor: stored, replaced, removed with its recovery codes; only for a user that exists', async (t) => {
    const store = await open(t)
    const ivy = user({ username: 'ivy' })
    await store.insert(ivy)
    t.equal(await store.getSecondFactor(ivy.id), undefined)
    t.equal(await store.setSecondFactor('nobody', { sealedSecret: 's', confirmed: false, createdAt: 1 }), false, 'no such user')
    t.equal(await store.getSecondFactor('nobody'), undefined, 'nothing written')
    t.equal(await store.setSecondFactor(ivy.id, { sealedSecret: 'sealed-1', confirmed: false, createdAt: 10 }), true)
    t.same(await store.getSecondFactor(ivy.id), { sealedSecret: 'sealed-1', confirmed: false, createdAt: 10 })
    t.equal(await store.setSecondFactor(ivy.id, { sealedSecret: 'sealed-2', confirmed: true, createdAt: 11 }), true)
    t.same(await store.getSecondFactor(ivy.id), { sealedSecret: 'sealed-2', confirmed: true, createdAt: 11 })
    await store.setRecoveryCodes(ivy.id, ['h1', 'h2', 'h3'])
    t.equal(await store.recoveryCodesLeft(ivy.id), 3)
    await store.setRecoveryCodes(ivy.id, ['h4', 'h5'])
    t.equal(await store.recoveryCodesLeft(ivy.id), 2, 'replaced, not added')
    t.equal(await store.useRecoveryCode(ivy.id, 'h1'), false, 'an old code is gone')
    t.equal(await store.useRecoveryCode(ivy.id, 'h4'), true)
    t.equal(await store.useRecoveryCode(ivy.id, 'h4'), false, 'used once')
    t.equal(await store.useRecoveryCode('nobody', 'h5'), false, 'another user\'s code is not found')
    t.equal(await store.removeSecondFactor(ivy.id), true)
    t.equal(await store.removeSecondFactor(ivy.id), false)
    t.equal(await store.getSecondFactor(ivy.id), undefined)
    t.equal(await store.recoveryCodesLeft(ivy.id), 0, 'codes removed with the factor')
    await store.setSecondFactor(ivy.id, { sealedSecret: 'sealed-3', confirmed: true, createdAt: 12 })
    await store.setRecoveryCodes(ivy.id, ['h6'])
    await store.setRecoveryCodes(ivy.id, [])
    t.equal(await store.recoveryCodesLeft(ivy.id), 0, 'an empty set of codes')
    await store.setRecoveryCodes(ivy.id, ['h7'])
    t.equal(await store.delete(ivy.id), 'done')
    t.equal(await store.getSecondFactor(ivy.id), undefined, 'a deleted user\'s factor goes with them')
    t.equal(await store.recoveryCodesLeft(ivy.id), 0)
  })

  t.test('claimOnce: one caller wins, even at once; the claim ends at its expiry', async (t) => {
    const store = await open(t)
    const claims = await Promise.all(Array.from({ length: 8 }, async () => await store.claimOnce('totp:u1:100', 1_800_000_100, 1_800_000_000)))
    t.equal(claims.filter(Boolean).length, 1, 'exactly one of eight concurrent claims')
    t.equal(await store.claimOnce('totp:u1:101', 1_800_000_100, 1_800_000_000), true, 'another key')
    t.equal(await store.claimOnce('totp:u1:100', 1_800_000_200, 1_800_000_050), false, 'still claimed before its expiry')
  })

  t.test('pending logins: read while live, taken once', async (t) => {
    const store = await open(t)
    const now = 1_800_000_000
    await store.putPending('p1', '{"a":1}', now + 300, now)
    t.equal(await store.getPending('p1', now), '{"a":1}')
    t.equal(await store.getPending('p2', now), undefined)
    const takes = await Promise.all([store.takePending('p1', now), store.takePending('p1', now), store.takePending('p1', now)])
    t.same(takes.filter((v) => v !== undefined), ['{"a":1}'], 'taken exactly once')
    t.equal(await store.getPending('p1', now), undefined, 'gone')
  })
}

test('memory user store', async (t) => {
  userStoreContract(t, async () => new MemoryUserStore())
})

test('SQLite user store', async (t) => {
  userStoreContract(t, async (t) => {
    const db = openSqliteDatabase({ path: join(tempDir(t), 'users.db') })
    t.teardown(() => { db.close() })
    return new SqliteUserStore(db)
  })
  t.test('pending logins expire (the memory and Redis stores too: by time, or by the key\'s TTL)', async (t) => {
    const db = openSqliteDatabase({ path: join(tempDir(t), 'users.db') })
    t.teardown(() => { db.close() })
    const store = new SqliteUserStore(db)
    await store.putPending('p', 'v', 1_800_000_300, 1_800_000_000)
    t.equal(await store.getPending('p', 1_800_000_300), undefined)
    t.equal(await store.takePending('p', 1_800_000_300), undefined)
    t.equal(await store.claimOnce('k', 1_800_000_030, 1_800_000_000), true)
    t.equal(await store.claimOnce('k', 1_800_000_060, 1_800_000_030), true, 'claimable again once expired')
  })
  t.test('two connections to one file: a code, a step and a pending login are used once', async (t) => {
    const path = join(tempDir(t), 'users.db')
    const [one, two] = [openSqliteDatabase({ path }), openSqliteDatabase({ path })]
    t.teardown(() => { one.close(); two.close() })
    const [a, b] = [new SqliteUserStore(one), new SqliteUserStore(two)]
    const kim = user({ username: 'kim' })
    await a.insert(kim)
    await a.setRecoveryCodes(kim.id, ['h'])
    t.same([await a.useRecoveryCode(kim.id, 'h'), await b.useRecoveryCode(kim.id, 'h')], [true, false])
    t.same([await a.claimOnce('s', 1_800_000_100, 1_800_000_000), await b.claimOnce('s', 1_800_000_100, 1_800_000_000)], [true, false])
    await a.putPending('p', 'v', 1_800_000_100, 1_800_000_000)
    t.same([await b.takePending('p', 1_800_000_000), await a.takePending('p', 1_800_000_000)], ['v', undefined])
  })
})

test('Redis user store', async (t) => {
  const redis = await startRedis(t)
  userStoreContract(t, async (t) => new RedisUserStore(await redisClient(t, redis.url), uniquePrefix()))
  t.test('the default key prefix', async (t) => {
    const client = await redisClient(t, redis.url)
    const store = new RedisUserStore(client)
    const erin = user({ username: 'erin' })
    await store.insert(erin)
    t.equal(await client.get('session:username:erin'), erin.id)
  })
  t.test('two instances on one Redis: a recovery code, a TOTP step and a pending login are used once', async (t) => {
    const prefix = uniquePrefix()
    const a = new RedisUserStore(await redisClient(t, redis.url), prefix)
    const b = new RedisUserStore(await redisClient(t, redis.url), prefix)
    const kim = user({ username: 'kim' })
    await a.insert(kim)
    await a.setRecoveryCodes(kim.id, ['h'])
    t.same((await Promise.all([a.useRecoveryCode(kim.id, 'h'), b.useRecoveryCode(kim.id, 'h')])).sort(), [false, true])
    t.same((await Promise.all([a.claimOnce('s', 1_800_000_100, 1_800_000_000), b.claimOnce('s', 1_800_000_100, 1_800_000_000)])).sort(), [false, true])
    await a.putPending('p', 'v', 1_800_000_100, 1_800_000_000)
    t.same((await Promise.all([a.takePending('p'), b.takePending('p')])).filter((v) => v !== undefined), ['v'])
  })
  t.test('list: users created in the same second come by name, as in SQLite', async (t) => {
    const store = new RedisUserStore(await redisClient(t, redis.url), uniquePrefix())
    for (const username of ['mia', 'lea', 'noa']) await store.insert(user({ username }))
    t.same((await store.list()).map((u) => u.username), ['lea', 'mia', 'noa'])
  })
})

test('Redis user store on a three-primary cluster: the directory is one slot', async (t) => {
  const cluster = await startRedisCluster(t)
  const connect = async (t: Test): Promise<Awaited<ReturnType<typeof connectRedis>>> => {
    const client = await connectRedis({ url: 'redis://', commandTimeoutMs: 1000, clusterNodes: cluster.nodes.split(',').map(parseRedisAddress) })
    t.teardown(async () => { await closeRedis(client) })
    return client
  }
  userStoreContract(t, async (t) => new RedisUserStore(await connect(t), uniquePrefix()))
  t.test('its keys carry the {users} hash tag', async (t) => {
    const client = await connect(t)
    const prefix = uniquePrefix()
    const erin = user({ username: 'erin' })
    await new RedisUserStore(client, prefix).insert(erin)
    t.equal(await client.get(`${prefix}{users}:username:erin`), erin.id)
  })
})
