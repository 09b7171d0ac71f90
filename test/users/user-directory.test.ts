import { join } from 'node:path'
import { test, type Test } from 'tap'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'
import { PasswordHasher } from '../../src/users/password-hasher.js'
import { UserDirectory } from '../../src/users/user-directory.js'
import { MemoryUserStore, type UserStore } from '../../src/users/user-store.js'
import { SqliteUserStore } from '../../src/users/sqlite-user-store.js'
import { FAST_HASH, ManualClock, tempDir, TEST_PASSWORD } from '../helper.js'
import type { Revocation } from '../../src/stores/session-store.js'
import { create } from '../stores/contract.js'

const backends: Array<[string, (t: Test) => UserStore]> = [
  ['memory', () => new MemoryUserStore()],
  ['sqlite', (t) => {
    const db = openSqliteDatabase({ path: join(tempDir(t), 'users.db') })
    t.teardown(() => db.close())
    return new SqliteUserStore(db)
  }]
]

for (const [name, open] of backends) {
  test(`user directory on the ${name} user store`, async (t) => {
    const clock = new ManualClock()
    const revoked: Revocation[][] = []
    const sessions = new MemorySessionStore()
    const users = new UserDirectory({ users: open(t), sessions, hasher: new PasswordHasher(FAST_HASH), clock: clock.now, revocationLifetime: 3600, onRevoked: (r) => revoked.push(r) })

    const alice = await users.add('alice', TEST_PASSWORD, ['admin', 'admin', 'ops'])
    t.same(alice.roles, ['admin', 'ops'], 'roles deduplicated')
    t.match(alice.passwordHash, /^\$argon2id\$/)
    await t.rejects(users.add('ALICE', TEST_PASSWORD), { code: 'ERR_USER_EXISTS' }, 'usernames are unique regardless of case')
    const table: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['bad username', async () => await users.add('-alice', TEST_PASSWORD), /username must be/],
      ['space in username', async () => await users.add('al ice', TEST_PASSWORD), /username must be/],
      ['short password', async () => await users.add('bob', 'short'), /password must be 8-1024 characters/],
      ['long password', async () => await users.add('bob', 'x'.repeat(1025)), /password must be/],
      ['bad role', async () => await users.add('bob', TEST_PASSWORD, ['has space']), /at most 32 roles/],
      ['unknown user', async () => await users.setPassword('nobody', TEST_PASSWORD), /No user named "nobody"/]
    ]
    for (const [label, action, message] of table) await t.rejects(action(), { message }, label)

    t.same(await users.verifyCredentials('alice', TEST_PASSWORD), { id: alice.id, username: 'alice', roles: ['admin', 'ops'] })
    t.same(await users.verifyCredentials('Alice', TEST_PASSWORD), { id: alice.id, username: 'alice', roles: ['admin', 'ops'] }, 'case-insensitive login')
    t.equal(await users.verifyCredentials('alice', 'wrong password'), null)
    t.equal(await users.verifyCredentials('nobody', TEST_PASSWORD), null)
    t.equal(await users.verifyCredentials('alice', 'x'.repeat(1025)), null, 'over-long passwords are refused before hashing')

    await create(sessions, { id: 'family-of-alice-000000', user: { id: alice.id, username: 'alice', roles: [] }, authTime: clock.seconds, refreshJti: 'r'.repeat(22), previousRefreshJti: null, accessJti: 'a'.repeat(22), rotatedAt: clock.seconds, refreshExpiresAt: clock.seconds + 100, accessExpiresAt: clock.seconds + 10, generation: 0, userAgent: null, revokedAt: null })
    clock.advance(10)
    await users.setPassword('alice', 'another fine passphrase')
    t.same(revoked[0]?.map((r) => r.kind), ['subject', 'family'], 'a password change ends every session')
    t.same(revoked[0]?.[0], { kind: 'subject', id: alice.id, notBefore: clock.seconds, expiresAt: clock.seconds + 3600 })
    t.equal(await users.verifyCredentials('alice', TEST_PASSWORD), null, 'the old password no longer works')
    t.ok(await users.verifyCredentials('alice', 'another fine passphrase'))

    t.same((await users.setRoles('alice', ['reader'])).roles, ['reader'])
    t.same(await users.findUser(alice.id), { id: alice.id, username: 'alice', roles: ['reader'] })
    await users.setDisabled('alice', true)
    t.equal(revoked.length, 2, 'disabling ends every session')
    t.equal(await users.verifyCredentials('alice', 'another fine passphrase'), null, 'disabled: same answer as a wrong password')
    t.equal(await users.findUser(alice.id), null)
    await users.setDisabled('alice', false)
    t.equal(revoked.length, 2, 'enabling revokes nothing')
    t.equal(await users.findUser('no-such-id'), null)
    const listed = await users.list()
    t.same(listed.map((u) => [u.username, u.disabled, u.roles]), [['alice', false, ['reader']]])
    t.equal(await (await open(t)).update('no-such-id', { disabled: true }, 0), false)
  })
}

test('the password hasher never throws on a broken hash, and its dummy check returns false', async (t) => {
  const hasher = new PasswordHasher(FAST_HASH)
  t.equal(await hasher.verify('not a hash', 'x'), false)
  t.equal(await hasher.verifyNothing('x'), false)
  t.equal(await hasher.verifyNothing('y'), false, 'the dummy hash is computed once and reused')
})

test('SQLite sessions and users share one database file', async (t) => {
  const db = openSqliteDatabase({ path: join(tempDir(t), 'shared.db') })
  t.teardown(() => db.close())
  const directory = new UserDirectory({ users: new SqliteUserStore(db), sessions: new SqliteSessionStore(db), hasher: new PasswordHasher(FAST_HASH), clock: Date.now, revocationLifetime: 60 })
  await directory.add('carol', TEST_PASSWORD)
  await directory.setDisabled('carol', true)
  t.equal((await new SqliteSessionStore(db).loadRevocations(0)).revocations.length, 1)
})
