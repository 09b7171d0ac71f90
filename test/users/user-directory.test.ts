import { join } from 'node:path'
import { test, type Test } from 'tap'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { PasswordHasher } from '../../src/users/password-hasher.js'
import { passwordLength, passwordProblem } from '../../src/users/password-policy.js'
import { UserDirectory } from '../../src/users/user-directory.js'
import { MemoryUserStore, type UserStore } from '../../src/users/user-store.js'
import { SqliteUserStore } from '../../src/users/sqlite-user-store.js'
import { FAST_HASH, ManualClock, tempDir, TEST_PASSWORD } from '../helper.js'

const backends: Array<[string, (t: Test) => UserStore]> = [
  ['memory', () => new MemoryUserStore()],
  ['sqlite', (t) => {
    const db = openSqliteDatabase({ path: join(tempDir(t), 'users.db') })
    t.teardown(() => db.close())
    return new SqliteUserStore(db)
  }]
]

function directory (store: UserStore, clock = new ManualClock()): { users: UserDirectory, ended: string[] } {
  const ended: string[] = []
  const users = new UserDirectory({ users: store, hasher: new PasswordHasher(FAST_HASH), clock: clock.now, endSessions: async (id) => { ended.push(id) } })
  return { users, ended }
}

for (const [name, open] of backends) {
  test(`user directory on the ${name} user store`, async (t) => {
    const clock = new ManualClock()
    const { users, ended } = directory(open(t), clock)

    const alice = await users.add('alice', TEST_PASSWORD, ['admin', 'admin', 'ops'])
    t.same(alice.roles, ['admin', 'ops'], 'roles deduplicated')
    t.match(alice.passwordHash, /^\$argon2id\$/)
    await t.rejects(users.add('ALICE', TEST_PASSWORD), { code: 'ERR_USER_EXISTS' }, 'usernames are unique regardless of case')
    const table: Array<[string, () => Promise<unknown>, string, RegExp]> = [
      ['bad username', async () => await users.add('-alice', TEST_PASSWORD), 'ERR_INVALID_USER_INPUT', /username must be/],
      ['space in username', async () => await users.add('al ice', TEST_PASSWORD), 'ERR_INVALID_USER_INPUT', /username must be/],
      ['short password', async () => await users.add('bob', 'short'), 'ERR_PASSWORD_POLICY', /^Password refused: the password must have at least 8 characters$/],
      ['long password', async () => await users.add('bob', 'x'.repeat(1025)), 'ERR_PASSWORD_POLICY', /at most 1024 characters/],
      ['common password', async () => await users.add('bob', 'Password1'), 'ERR_PASSWORD_POLICY', /one of the most common passwords/],
      ['password with the username', async () => await users.add('roberta', 'i am Roberta, hello'), 'ERR_PASSWORD_POLICY', /must not contain the username/],
      ['bad role', async () => await users.add('bob', TEST_PASSWORD, ['has space']), 'ERR_INVALID_USER_INPUT', /at most 32 roles/],
      ['unknown user', async () => await users.setPasswordOf('nobody', TEST_PASSWORD), 'ERR_USER_NOT_FOUND', /^No user named "nobody"$/],
      ['unknown id', async () => await users.setPassword('no-such-id', TEST_PASSWORD), 'ERR_USER_NOT_FOUND', /^No user with id no-such-id$/]
    ]
    for (const [label, action, code, message] of table) await t.rejects(action(), { code, message }, label)
    t.same(ended, [], 'nothing refused ended a session')

    t.same(await users.verifyCredentials('alice', TEST_PASSWORD), { id: alice.id, username: 'alice', roles: ['admin', 'ops'] })
    t.same(await users.verifyCredentials('Alice', TEST_PASSWORD), { id: alice.id, username: 'alice', roles: ['admin', 'ops'] }, 'case-insensitive login')
    t.equal(await users.verifyCredentials('alice', 'wrong password'), null)
    t.equal(await users.verifyCredentials('nobody', TEST_PASSWORD), null)
    t.equal(await users.verifyCredentials('alice', 'x'.repeat(1025)), null, 'over-long passwords are refused before hashing')

    clock.advance(10)
    await users.setPasswordOf('alice', 'another fine passphrase')
    t.same(ended, [alice.id], 'a password change ends every session')
    t.equal(await users.verifyCredentials('alice', TEST_PASSWORD), null, 'the old password no longer works')
    t.ok(await users.verifyCredentials('alice', 'another fine passphrase'))

    t.same((await users.setRolesOf('alice', ['admin', 'ops', 'reader'])).roles, ['admin', 'ops', 'reader'])
    t.same(ended, [alice.id], 'adding a role ends nothing: it reaches the tokens at the next refresh')
    t.same((await users.setRolesOf('alice', ['reader'])).roles, ['reader'])
    t.same(ended, [alice.id, alice.id], 'taking a role away ends every session')
    t.same(await users.findUser(alice.id), { id: alice.id, username: 'alice', roles: ['reader'] })
    await users.setDisabledOf('alice', true)
    t.equal(ended.length, 3, 'disabling ends every session')
    t.equal(await users.verifyCredentials('alice', 'another fine passphrase'), null, 'disabled: same answer as a wrong password')
    t.equal(await users.findUser(alice.id), null)
    await users.setDisabledOf('alice', false)
    t.equal(ended.length, 3, 'enabling revokes nothing')
    t.equal(await users.findUser('no-such-id'), null)
    const listed = await users.list()
    t.same(listed.map((u) => [u.username, u.disabled, u.roles]), [['alice', false, ['reader']]])

    const gone = await users.deleteByName('alice')
    t.equal(gone.id, alice.id)
    t.equal(ended.length, 4, 'deleting ends every session')
    t.equal(await users.verifyCredentials('alice', 'another fine passphrase'), null)
    t.same(await users.list(), [])
  })

  test(`self-service and admin operations by id (${name})`, async (t) => {
    const clock = new ManualClock()
    const { users, ended } = directory(open(t), clock)
    const carol = await users.add('carol', TEST_PASSWORD, ['admin'])

    t.same(await users.changePassword(carol.id, 'not my password', 'a new good passphrase'), { status: 'wrong-password' })
    t.same(await users.changePassword('no-such-id', TEST_PASSWORD, 'a new good passphrase'), { status: 'wrong-password' }, 'an unknown user looks the same')
    await t.rejects(users.changePassword(carol.id, TEST_PASSWORD, 'password'), { code: 'ERR_PASSWORD_POLICY' })
    t.same(ended, [], 'refused changes end nothing')
    t.same(await users.changePassword(carol.id, TEST_PASSWORD, 'a new good passphrase'), { status: 'changed', user: { id: carol.id, username: 'carol', roles: ['admin'] } })
    t.same(ended, [carol.id])
    t.ok(await users.verifyCredentials('carol', 'a new good passphrase'))

    const signed = await users.signUp('dora', 'a long passphrase of hers')
    t.same(signed.roles, [], 'a sign-up gets no roles')
    const view = await users.getUser(signed.id)
    t.same(view, { id: signed.id, username: 'dora', roles: [], disabled: false, createdAt: clock.seconds, updatedAt: clock.seconds })
    t.notOk('passwordHash' in (view ?? {}), 'a view never carries the hash')
    t.equal(await users.getUser('nope'), undefined)

    const erin = await users.createUser('erin', 'a long passphrase of his', ['ops'])
    t.same((await users.listUsers({ offset: 0, limit: 10 })).users.map((u) => u.username), ['carol', 'dora', 'erin'])
    t.same(await users.listUsers({ search: 'R', offset: 0, limit: 1 }).then((p) => [p.users.map((u) => u.username), p.total]), [['carol'], 3])

    const guard = { keepRole: 'admin' }
    await t.rejects(users.setRoles(carol.id, [], guard), { code: 'ERR_LAST_ADMIN', message: 'Refused: this would leave no enabled user with the admin role', statusCode: 409 })
    await t.rejects(users.setDisabled(carol.id, true, guard), { code: 'ERR_LAST_ADMIN' })
    await t.rejects(users.deleteUser(carol.id, guard), { code: 'ERR_LAST_ADMIN' })
    t.same(ended, [carol.id], 'refused: nothing ended')
    await users.setRoles(erin.id, ['ops', 'admin'], guard)
    t.same(ended, [carol.id], 'a role added ends nothing')
    t.same((await users.setRoles(carol.id, [], guard)).roles, [], 'with a second admin, the first may go')
    t.same(ended, [carol.id, carol.id], 'the role taken away ended the sessions')
    t.same((await users.setPassword(signed.id, 'she gets a new passphrase')).username, 'dora')
    t.same(ended.at(-1), signed.id, 'an admin setting a password ends the sessions')
    await t.rejects(users.setPassword(signed.id, '12345678'), { code: 'ERR_PASSWORD_POLICY' })
    t.same((await users.setDisabled(signed.id, true, guard)).disabled, true)
    t.same((await users.deleteUser(signed.id, guard)).id, signed.id)
    await t.rejects(users.deleteUser(signed.id, guard), { code: 'ERR_USER_NOT_FOUND' })
  })
}

test('the password policy: ASVS 6.2 lengths in characters, any characters, common and context words refused', async (t) => {
  const table: Array<[string, string, string | undefined, ReturnType<typeof passwordProblem> extends Promise<infer P> ? P : never]> = [
    ['seven characters', 'abcdefg', undefined, 'too-short'],
    ['eight characters', 'kq3!zv9w', undefined, undefined],
    ['eight emoji are eight characters', '🐢🐇🦊🐻🐼🐨🐯🦁', undefined, undefined],
    ['seven emoji (fourteen UTF-16 units) are too few', '🐢🐇🦊🐻🐼🐨🐯', undefined, 'too-short'],
    ['64 characters of anything, spaces included', ' a'.repeat(32), undefined, undefined],
    ['1024 characters', 'x'.repeat(1023) + 'y', undefined, undefined],
    ['1025 characters', 'x'.repeat(1025), undefined, 'too-long'],
    ['a common password', 'password', undefined, 'common'],
    ['a common password in other case', 'QWERTY123', undefined, 'common'],
    ['a common 8+ password', 'iloveyou', undefined, 'common'],
    ['containing the username', 'best-of-alice-2026', 'Alice', 'contains-username'],
    ['a short username does not count', 'bo-and-a-long-phrase', 'bo', undefined],
    ['unicode is kept as is', 'pässwörd-ÜNICODE', undefined, undefined]
  ]
  for (const [label, password, username, problem] of table) t.equal(await passwordProblem(password, username), problem, label)
  t.equal(passwordLength('🐢a'), 2)
})

test('SQLite users: the last-admin guard holds across two connections to one file', async (t) => {
  const path = join(tempDir(t), 'shared.db')
  const first = openSqliteDatabase({ path })
  const second = openSqliteDatabase({ path })
  t.teardown(() => { first.close(); second.close() })
  const a = directory(new SqliteUserStore(first))
  const b = directory(new SqliteUserStore(second))
  const x = await a.users.add('xena', TEST_PASSWORD, ['admin'])
  const y = await a.users.add('yuri', TEST_PASSWORD, ['admin'])
  await a.users.setRoles(x.id, [], { keepRole: 'admin' })
  await t.rejects(b.users.setDisabled(y.id, true, { keepRole: 'admin' }), { code: 'ERR_LAST_ADMIN' })
})
