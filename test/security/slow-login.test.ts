/**
 * A login whose credential check takes as long as an access token lives is refused like a wrong password
 * (docs/security-model.md): a store may forget an "end every session" record once it expires, so a check
 * that old could have missed one. Just under the limit it succeeds. The audit log says why.
 */
import Fastify from 'fastify'
import { test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { client, ManualClock } from '../helper.js'
import { captureLogs } from '../helpers/log-capture.js'
import { baseOptions, verifyCredentials } from '../http/plugin-helper.js'

test('a credential check as long as the access lifetime: 401 and audit reason too-slow', async (t) => {
  const clock = new ManualClock()
  const logs = captureLogs()
  let checkSeconds = 0
  const app = Fastify({ logger: logs.logger ?? false })
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, baseOptions({
    clock: clock.now,
    accessTtlSeconds: 300,
    verifyCredentials: async (username, password) => {
      clock.advance(checkSeconds)
      return await verifyCredentials(username, password)
    }
  }))
  await app.ready()
  const login = async (): Promise<ReturnType<ReturnType<typeof client>['request']>> =>
    await client(app).request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })

  checkSeconds = 299
  t.equal((await login()).statusCode, 200, 'just under the access lifetime')

  checkSeconds = 300
  const slow = await login()
  t.equal(slow.statusCode, 401)
  t.equal(slow.json().code, 'ERR_INVALID_CREDENTIALS', 'the same answer as a wrong password')
  t.same(slow.headers['set-cookie'], undefined, 'no cookie set')
  t.match(logs.audits('login.failed'), [{ username: 'ada', reason: 'too-slow' }])
})
