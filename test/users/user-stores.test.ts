/** The user store behaves the same in memory, in SQLite and in Redis. */
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { RedisUserStore } from '../../src/users/redis-user-store.js'
import { MemoryUserStore, type UserRecord, type UserStore } from '../../src/users/user-store.js'
import { SqliteUserStore } from '../../src/users/sqlite-user-store.js'
import { tempDir } from '../helper.js'
import { startRedis } from '../helpers/redis-server.js'
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
    t.equal(await store.update(dave.id, { roles: ['admin', 'ops'] }, dave.createdAt + 5), true)
    t.equal(await store.update(dave.id, { disabled: true, passwordHash: 'new-hash' }, dave.createdAt + 9), true)
    t.same(await store.findById(dave.id), { ...dave, roles: ['admin', 'ops'], disabled: true, passwordHash: 'new-hash', updatedAt: dave.createdAt + 9 })
    t.equal(await store.update(dave.id, { disabled: false }, dave.createdAt + 10), true)
    t.equal((await store.findById(dave.id))?.disabled, false)
    t.equal(await store.update('nobody', { disabled: true }, 0), false, 'no such user')
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
  t.test('list: users created in the same second come by name, as in SQLite', async (t) => {
    const store = new RedisUserStore(await redisClient(t, redis.url), uniquePrefix())
    for (const username of ['mia', 'lea', 'noa']) await store.insert(user({ username }))
    t.same((await store.list()).map((u) => u.username), ['lea', 'mia', 'noa'])
  })
})
