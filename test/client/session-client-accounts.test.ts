/**
 * The browser client's account and admin calls against the real routes (fetch answered by inject() with a
 * browser-like cookie jar): changePassword, listSessions, endOtherSessions, signup and `admin.*`.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { createSessionClient, type SessionClient } from '../../src/client/session-client.js'
import { addUser, buildTestApp, ManualClock, TEST_PASSWORD } from '../helper.js'
import { FakeLocks, FakeTimers, injectFetch, newJar } from './fake-browser.js'

const NEW_PASSWORD = 'a brand new passphrase'

/** One browser (its own cookie jar) on the app; tabs of it share lock and channel. */
function browserOn (t: Test, app: FastifyInstance, clock: ManualClock): SessionClient {
  const client = createSessionClient({
    fetch: injectFetch(app, newJar(clock), clock.now),
    locks: new FakeLocks(),
    broadcastChannel: null,
    now: clock.now,
    setTimeout: new FakeTimers(clock).setTimeout,
    clearTimeout: () => {},
    channelName: `test-${randomUUID()}`
  })
  t.teardown(() => { client.close() })
  return client
}

test('changePassword: this browser gets a new session, the others are logged out; its errors keep their codes', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const laptop = browserOn(t, app, clock)
  const phone = browserOn(t, app, clock)
  const before = await laptop.login('alice', TEST_PASSWORD)
  await phone.login('alice', TEST_PASSWORD)
  const sessions = await laptop.listSessions()
  t.equal(sessions.length, 2)
  t.match(sessions[0], { current: true, clientAddress: '127.0.0.1', createdAt: String, lastSeenAt: String })

  await t.rejects(laptop.changePassword('wrong', NEW_PASSWORD), { status: 403, code: 'ERR_WRONG_PASSWORD' })
  await t.rejects(laptop.changePassword(TEST_PASSWORD, 'password'), { status: 400, code: 'ERR_PASSWORD_POLICY' })
  t.equal(laptop.state?.sessionId, before.sessionId, 'a refused change keeps the session')

  const after = await laptop.changePassword(TEST_PASSWORD, NEW_PASSWORD)
  t.not(after.sessionId, before.sessionId, 'a new session for this browser')
  t.equal(laptop.state?.sessionId, after.sessionId)
  t.equal(await phone.session(), null, 'the other device is logged out')
  t.same((await laptop.listSessions()).map((s) => s.current), [true])
  t.equal((await laptop.session())?.user.username, 'alice')
})

test('endOtherSessions ends the others in one call and keeps this one', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const [a, b, c] = [browserOn(t, app, clock), browserOn(t, app, clock), browserOn(t, app, clock)]
  for (const browser of [a, b, c]) await browser.login('alice', TEST_PASSWORD)
  t.equal(await a.endOtherSessions(), 2)
  t.equal(await b.session(), null)
  t.equal(await c.session(), null)
  t.ok(await a.session())
  t.same(await a.sessions(), await a.listSessions(), 'sessions() is listSessions()')
})

test('signup: logs in where SIGNUP=open; a 404 where it is closed', async (t) => {
  const clock = new ManualClock()
  const open = await buildTestApp(t, { clock: clock.now, env: { SIGNUP: 'open' } })
  const state = await browserOn(t, open, clock).signup('newbie', NEW_PASSWORD)
  t.match(state, { user: { username: 'newbie', roles: [] }, sessionId: String })
  await t.rejects(browserOn(t, open, clock).signup('NEWBIE', NEW_PASSWORD), { status: 409, code: 'ERR_USER_EXISTS' })
  const closed = await buildTestApp(t, { clock: clock.now })
  await t.rejects(browserOn(t, closed, clock).signup('newbie', NEW_PASSWORD), { status: 404, code: 'ERR_ROUTE_NOT_FOUND' })
})

test('admin calls: typed users and sessions; a non-admin gets ERR_FORBIDDEN', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'root', TEST_PASSWORD, ['admin'])
  clock.advance(1)
  const bobId = await addUser(app, 'bob')
  const admin = browserOn(t, app, clock)
  await admin.login('root', TEST_PASSWORD)
  const bob = browserOn(t, app, clock)
  await bob.login('bob', TEST_PASSWORD)
  await t.rejects(bob.admin.listUsers(), { status: 403, code: 'ERR_FORBIDDEN' })

  const page = await admin.admin.listUsers({ search: 'o', limit: 1 })
  t.match(page, { total: 2, offset: 0, limit: 1, users: [{ username: 'root', roles: ['admin'], disabled: false }] })
  t.equal((await admin.admin.getUser(bobId)).username, 'bob')
  const carol = await admin.admin.createUser({ username: 'carol', password: NEW_PASSWORD, roles: ['ops'] })
  t.same(carol.roles, ['ops'])
  t.same((await admin.admin.setRoles(carol.id, ['ops', 'editor'])).roles, ['ops', 'editor'])
  t.equal((await admin.admin.setPassword(carol.id, 'another long passphrase')).id, carol.id)

  const bobSessions = await admin.admin.listSessions(bobId)
  t.equal(bobSessions.length, 1)
  await admin.admin.endSession(bobId, bobSessions[0]?.id as string)
  t.equal(await bob.session(), null, 'bob is out')
  await bob.login('bob', TEST_PASSWORD)
  t.equal(await admin.admin.endSessions(bobId), 1)
  t.equal(await bob.session(), null)

  t.equal((await admin.admin.disableUser(bobId)).disabled, true)
  t.equal((await admin.admin.enableUser(bobId)).disabled, false)
  await admin.admin.deleteUser(carol.id)
  await t.rejects(admin.admin.getUser(carol.id), { status: 404, code: 'ERR_USER_NOT_FOUND' })
  await t.rejects(admin.admin.disableUser((await admin.session())?.user.id as string), { status: 409, code: 'ERR_ADMIN_SELF_CHANGE' })
})
