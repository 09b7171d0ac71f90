/**
 * The browser client and the assurance routes: `reauthRequired` instead of a refresh when a sensitive call
 * needs a recent authentication, `reauth()`, and the two-step login with `verifySecondFactor()`.
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { createSessionClient, type SessionClient, type SessionClientEvents } from '../../src/client/session-client.js'
import { addUser, buildTestApp, ManualClock, TEST_PASSWORD } from '../helper.js'
import { appCode } from '../helpers/totp.js'
import { FakeLocks, FakeTimers, injectFetch, newJar } from './fake-browser.js'

function browserOn (t: Test, app: FastifyInstance, clock: ManualClock): { client: SessionClient, calls: string[] } {
  const calls: string[] = []
  const fetch = injectFetch(app, newJar(clock), clock.now)
  const client = createSessionClient({
    fetch: async (input, init) => {
      calls.push(`${init?.method ?? 'GET'} ${String(input)}`)
      return await fetch(input, init)
    },
    locks: new FakeLocks(),
    broadcastChannel: null,
    now: clock.now,
    setTimeout: new FakeTimers(clock).setTimeout,
    clearTimeout: () => {},
    channelName: `test-${randomUUID()}`
  })
  t.teardown(() => { client.close() })
  return { client, calls }
}

test('a stale authentication: reauthRequired, no refresh; reauth() and the call goes through', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const { client, calls } = browserOn(t, app, clock)
  await client.login('alice', TEST_PASSWORD)
  const events: Array<SessionClientEvents['reauthRequired']> = []
  client.on('reauthRequired', (event) => events.push(event))
  clock.advance(400)
  await client.refresh()
  const since = calls.length
  const refused = await client.endOtherSessions().catch((e: unknown) => e)
  t.match(refused, { name: 'SessionClientError', status: 401, code: 'ERR_REAUTH_REQUIRED' })
  t.same(calls.slice(since), ['DELETE /auth/sessions'], 'no refresh was tried: the session is fine')
  t.same(events, [{ maxAge: 300, secondFactor: false }])
  t.not(client.state, null, 'still signed in')

  await t.rejects(client.reauth('wrong password!'), { status: 403, code: 'ERR_WRONG_PASSWORD' })
  const before = client.state?.sessionId
  const state = await client.reauth(TEST_PASSWORD)
  t.equal(state.sessionId, before, 'the same session')
  t.equal(await client.endOtherSessions(), 0)
})

test('two-step login: login() rejects with ERR_SECOND_FACTOR_REQUIRED, verifySecondFactor() signs in; reauth() and changePassword() take the code', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now })
  await addUser(app, 'alice')
  const { client } = browserOn(t, app, clock)
  await client.login('alice', TEST_PASSWORD)
  const { secret } = await (await client.fetch('/auth/mfa/totp', { method: 'POST' })).json() as { secret: string }
  const confirm = await client.fetch('/auth/mfa/totp/confirm', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: appCode(secret, clock.ms) }) })
  t.equal(confirm.status, 200)
  await client.logout()
  clock.advance(30)

  await t.rejects(client.login('alice', TEST_PASSWORD), { code: 'ERR_SECOND_FACTOR_REQUIRED' })
  t.equal(client.state, null, 'no session after the password alone')
  await t.rejects(client.verifySecondFactor({ code: '000000' }), { status: 401, code: 'ERR_INVALID_SECOND_FACTOR' })
  const state = await client.verifySecondFactor({ code: appCode(secret, clock.ms) })
  t.equal(state.user.username, 'alice')
  t.equal(client.state?.sessionId, state.sessionId)

  clock.advance(400)
  await client.refresh()
  await t.rejects(client.reauth(TEST_PASSWORD), { code: 'ERR_SECOND_FACTOR_REQUIRED' })
  t.equal((await client.reauth(TEST_PASSWORD, appCode(secret, clock.ms))).sessionId, state.sessionId)
  t.equal(await client.endOtherSessions(), 0)

  clock.advance(30)
  const newPassword = 'a brand new passphrase'
  await t.rejects(client.changePassword(TEST_PASSWORD, newPassword), { status: 401, code: 'ERR_SECOND_FACTOR_REQUIRED' }, 'changePassword() needs the code too')
  t.equal(client.state?.sessionId, state.sessionId, 'the session lives on')
  const changed = await client.changePassword(TEST_PASSWORD, newPassword, appCode(secret, clock.ms))
  t.not(changed.sessionId, state.sessionId, 'a new session after the change')
})
