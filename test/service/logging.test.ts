/**
 * Every log line of a whole run — login ok and failed, refresh, reuse, logout, logout-all, ending a
 * session, errors — is captured and searched: no token, cookie value or password appears, and each
 * audit event is there with its user and session ids.
 */
import { test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, ManualClock, setCookieHeaders, TEST_PASSWORD } from '../helper.js'

test('audit events are logged with ids, and no secret ever reaches the log', async (t) => {
  const lines: string[] = []
  const clock = new ManualClock()
  const app = await buildTestApp(t, {
    clock: clock.now,
    env: { LOG_LEVEL: 'trace' },
    logger: { stream: { write: (line: string) => { lines.push(line) } } }
  })
  const userId = await addUser(app, 'alice')
  const secrets = new Set<string>([TEST_PASSWORD, 'wrong password attempt', 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'])
  const remember = (response: { headers: Record<string, unknown> }): void => {
    for (const header of setCookieHeaders(response as never)) {
      const value = header.split(';')[0]?.split('=').slice(1).join('=') ?? ''
      if (value.length > 0) secrets.add(value)
    }
  }

  const c = client(app, new CookieJar(clock.now))
  remember(await client(app).request('POST', '/auth/login', { username: 'alice', password: 'wrong password attempt' }))
  remember(await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { authorization: 'Bearer should-not-be-logged' }))
  secrets.add('should-not-be-logged')
  const stolen = c.jar.clone()
  clock.advance(20)
  remember(await c.request('POST', '/auth/refresh'))
  remember(await c.request('GET', '/auth/session'))
  clock.advance(11)
  remember(await client(app, stolen).request('POST', '/auth/refresh'))
  const second = client(app, new CookieJar(clock.now))
  remember(await second.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }))
  const third = client(app, new CookieJar(clock.now))
  remember(await third.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }))
  const thirdId = (await third.request('GET', '/auth/session')).json().session.id
  remember(await second.request('DELETE', `/auth/sessions/${thirdId as string}`))
  remember(await second.request('POST', '/auth/logout-all'))
  const fourth = client(app, new CookieJar(clock.now))
  remember(await fourth.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }))
  remember(await fourth.request('POST', '/auth/logout'))
  await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json', cookie: `__Host-session=${[...secrets].at(-1) ?? ''}` }, payload: '{"username":"alice","password":"' })

  const log = lines.join('\n')
  t.ok(lines.length > 30, `a real amount of logging (${lines.length} lines)`)
  for (const secret of secrets) {
    t.notOk(log.includes(secret), `never logged: ${secret.slice(0, 12)}…`)
  }
  const audits = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => typeof l['audit'] === 'string')
  const event = (name: string): Array<Record<string, unknown>> => audits.filter((a) => a['audit'] === name)
  t.match(event('login.failed'), [{ username: 'alice', level: 30 }])
  t.equal(event('login.succeeded').length, 4)
  t.match(event('login.succeeded')[0], { userId, familyId: String })
  t.match(event('refresh.succeeded'), [{ userId, familyId: String, generation: 1, replayed: false }])
  t.match(event('refresh.reuse_detected'), [{ userId, familyId: String, level: 40 }], 'reuse is a warning')
  t.match(event('session.ended'), [{ userId, familyId: thirdId, current: false }])
  t.match(event('logout_all'), [{ userId, familyId: String, sessionsEnded: Number }])
  t.match(event('logout'), [{ userId, familyId: String }])
})
