/**
 * The user database goes away under the account routes (a real SQLite file closed): sign-up, password change,
 * the admin and the second-factor routes answer 503 ERR_STORE_UNAVAILABLE, never a 500, and change no cookie.
 */
import { join } from 'node:path'
import { test } from 'tap'
import { openSqliteDatabase } from '../../../src/stores/sqlite-database.js'
import { PasswordHasher } from '../../../src/users/password-hasher.js'
import { SqliteUserStore } from '../../../src/users/sqlite-user-store.js'
import { UserDirectory } from '../../../src/users/user-directory.js'
import { client, FAST_HASH, ManualClock, tempDir, TEST_PASSWORD } from '../../helper.js'
import { embeddingApp } from '../plugin-helper.js'

test('user store down: 503 for sign-up, password change, admin and second-factor routes', async (t) => {
  const clock = new ManualClock()
  const db = openSqliteDatabase({ path: join(tempDir(t), 'users.db') })
  const accounts = new UserDirectory({ users: new SqliteUserStore(db), hasher: new PasswordHasher(FAST_HASH), clock: clock.now, endSessions: async () => {} })
  const app = await embeddingApp(t, { accounts, signup: 'open', clock: clock.now, verifyCredentials: accounts.verifyCredentials.bind(accounts) })
  await accounts.add('root', TEST_PASSWORD, ['admin'])
  const c = client(app)
  t.equal((await c.request('POST', '/auth/login', { username: 'root', password: TEST_PASSWORD })).statusCode, 200)

  db.close()
  const cases: Array<[string, string, string, unknown]> = [
    ['sign-up', 'POST', '/auth/signup', { username: 'newbie', password: 'a different long passphrase' }],
    ['password change', 'POST', '/auth/password', { currentPassword: TEST_PASSWORD, newPassword: 'a different long passphrase' }],
    ['admin: list users', 'GET', '/auth/admin/users', undefined],
    ['second factor: status', 'GET', '/auth/mfa', undefined],
    ['second factor: enrolment', 'POST', '/auth/mfa/totp', undefined]
  ]
  for (const [name, method, url, body] of cases) {
    const response = await c.request(method, url, body)
    t.equal(response.statusCode, 503, name)
    t.equal(response.json().code, 'ERR_STORE_UNAVAILABLE', name)
    t.same(response.headers['set-cookie'], undefined, `${name}: no cookie changed`)
  }
})
