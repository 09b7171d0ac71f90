/** The admin routes under /auth/admin/: who may call them, what each does, what each refuses, what is logged. */
import type { FastifyInstance } from 'fastify'
import { test, type Test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, loggedIn, ManualClock, TEST_PASSWORD, type Client } from '../../helper.js'
import { captureLogs, type CapturedLogs } from '../../helpers/log-capture.js'

const ANY_ID = 'AAAAAAAAAAAAAAAAAAAAAA'

interface Setup {
  app: FastifyInstance
  clock: ManualClock
  logs: CapturedLogs
  admin: Client
  adminId: string
  bobId: string
  bob: Client
}

async function setup (t: Test, env: Record<string, string> = {}): Promise<Setup> {
  const clock = new ManualClock()
  const logs = captureLogs()
  const app = await buildTestApp(t, { clock: clock.now, logger: logs.logger, env: { LOG_LEVEL: 'info', ...env } })
  const adminId = await addUser(app, 'root', TEST_PASSWORD, [env['ADMIN_ROLE'] ?? 'admin'])
  clock.advance(1)
  const bobId = await addUser(app, 'bob', TEST_PASSWORD, ['editor'])
  clock.advance(1)
  const admin = await loggedIn(t, app, 'root', TEST_PASSWORD, clock)
  const bob = await loggedIn(t, app, 'bob', TEST_PASSWORD, clock)
  return { app, clock, logs, admin, adminId, bobId, bob }
}

/** Every admin route, with a valid body where one is needed. */
function routes (id: string): Array<[string, string, unknown?]> {
  return [
    ['GET', '/auth/admin/users'],
    ['POST', '/auth/admin/users', { username: 'newcomer', password: 'a long new passphrase' }],
    ['GET', `/auth/admin/users/${id}`],
    ['DELETE', `/auth/admin/users/${id}`],
    ['POST', `/auth/admin/users/${id}/disable`],
    ['POST', `/auth/admin/users/${id}/enable`],
    ['PUT', `/auth/admin/users/${id}/roles`, { roles: [] }],
    ['PUT', `/auth/admin/users/${id}/password`, { password: 'a long new passphrase' }],
    ['GET', `/auth/admin/users/${id}/sessions`],
    ['DELETE', `/auth/admin/users/${id}/sessions`],
    ['DELETE', `/auth/admin/users/${id}/sessions/${ANY_ID}`]
  ]
}

test('admin routes: 401 without a session, 403 ERR_FORBIDDEN without the admin role, cross-site refused; nothing changes', async (t) => {
  const { app, bob, bobId, admin, logs } = await setup(t)
  for (const [method, url, body] of routes(bobId)) {
    const anonymous = await client(app).request(method, url, body)
    t.equal(anonymous.statusCode, 401, `${method} ${url} without a session`)
    t.equal(anonymous.json().code, 'ERR_SESSION_INVALID')
    const forbidden = await bob.request(method, url, body)
    t.equal(forbidden.statusCode, 403, `${method} ${url} as a non-admin`)
    t.same(forbidden.json(), { statusCode: 403, code: 'ERR_FORBIDDEN', error: 'Forbidden', message: 'This needs the admin role' })
    if (method !== 'GET') {
      const crossSite = await admin.request(method, url, body, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })
      t.equal(crossSite.json().code, 'ERR_CSRF_REJECTED', `${method} ${url} cross-site`)
    }
  }
  t.equal(logs.audits('admin.forbidden').length, routes('x').length, 'every refusal logged')
  t.match(logs.audits('admin.forbidden')[0], { actorId: bobId, actorName: 'bob', level: 40 })
  t.equal((await bob.request('GET', '/auth/session')).statusCode, 200, 'bob is untouched')
  t.same((await app.users.list()).map((u) => u.username), ['root', 'bob'])
})

test('an admin lists, creates, reads, changes and deletes users; every action is logged with its actor', async (t) => {
  const { app, clock, admin, adminId, bob, bobId, logs } = await setup(t)
  for (const name of ['carol', 'dave', 'erin']) {
    await addUser(app, name)
    clock.advance(1)
  }

  const page = await admin.request('GET', '/auth/admin/users?limit=2&offset=1')
  t.equal(page.statusCode, 200)
  t.match(page.json(), { total: 5, offset: 1, limit: 2, users: [{ username: 'bob', id: bobId, roles: ['editor'], disabled: false, createdAt: String, updatedAt: String }, { username: 'carol' }] })
  t.notMatch(page.body, /argon2|passwordHash/, 'never a hash')
  t.same((await admin.request('GET', '/auth/admin/users?search=R')).json().users.map((u: { username: string }) => u.username), ['root', 'carol', 'erin'])
  t.equal((await admin.request('GET', '/auth/admin/users')).json().limit, 50, 'default page size')

  const created = await admin.request('POST', '/auth/admin/users', { username: 'frank', password: 'a long new passphrase', roles: ['ops'] })
  t.equal(created.statusCode, 201)
  t.match(created.json(), { user: { username: 'frank', roles: ['ops'], disabled: false } })
  const frankId = created.json().user.id as string
  t.match((await admin.request('GET', `/auth/admin/users/${frankId}`)).json(), { user: { id: frankId, username: 'frank' } })

  // Adding a role: at bob's next refresh. Taking one away: at once.
  clock.advance(1)
  t.match((await admin.request('PUT', `/auth/admin/users/${bobId}/roles`, { roles: ['editor', 'ops'] })).json(), { user: { roles: ['editor', 'ops'] } })
  t.same((await bob.request('GET', '/auth/session')).json().user.roles, ['editor'], 'an added role waits for the refresh')
  t.same((await bob.request('POST', '/auth/refresh')).json().user.roles, ['editor', 'ops'], 'and arrives with it')
  t.match((await admin.request('PUT', `/auth/admin/users/${bobId}/roles`, { roles: ['ops'] })).json(), { user: { roles: ['ops'] } })
  t.equal((await bob.request('GET', '/auth/session')).statusCode, 401, 'a role taken away ends the sessions at once')
  const bob2 = await loggedIn(t, app, 'bob', TEST_PASSWORD, clock)
  t.same((await bob2.request('GET', '/auth/session')).json().user.roles, ['ops'])

  t.match((await admin.request('POST', `/auth/admin/users/${bobId}/disable`)).json(), { user: { disabled: true } })
  t.equal((await bob2.request('GET', '/auth/session')).statusCode, 401, 'disabling ends the sessions at once')
  t.equal((await client(app).request('POST', '/auth/login', { username: 'bob', password: TEST_PASSWORD })).statusCode, 401)
  t.match((await admin.request('POST', `/auth/admin/users/${bobId}/enable`)).json(), { user: { disabled: false } })
  const bob3 = await loggedIn(t, app, 'bob', TEST_PASSWORD, clock)

  t.equal((await admin.request('PUT', `/auth/admin/users/${bobId}/password`, { password: 'set by the admin, long' })).statusCode, 200)
  t.equal((await bob3.request('GET', '/auth/session')).statusCode, 401, 'a password set by an admin ends the sessions at once')
  const bob4 = await loggedIn(t, app, 'bob', 'set by the admin, long', clock)

  t.equal((await admin.request('DELETE', `/auth/admin/users/${frankId}`)).statusCode, 204)
  t.equal((await admin.request('GET', `/auth/admin/users/${frankId}`)).json().code, 'ERR_USER_NOT_FOUND')
  t.equal((await bob4.request('GET', '/auth/session')).statusCode, 200, 'other users untouched')

  const events = ['admin.users_listed', 'admin.user_created', 'admin.user_read', 'admin.roles_changed', 'admin.user_disabled', 'admin.user_enabled', 'admin.password_set', 'admin.user_deleted']
  for (const event of events) t.match(logs.audits(event)[0], { actorId: adminId, actorName: 'root' }, `${event} names the actor`)
  t.match(logs.audits('admin.roles_changed')[1], { userId: bobId, roles: ['ops'] })
  t.notMatch(JSON.stringify(logs.lines), /set by the admin|a long new passphrase/, 'no password logged')
})

test('an admin lists and ends another user\'s sessions over HTTP', async (t) => {
  const { app, clock, admin, bobId, logs, adminId } = await setup(t)
  const phone = client(app, new CookieJar(clock.now))
  await phone.request('POST', '/auth/login', { username: 'bob', password: TEST_PASSWORD }, { 'user-agent': 'Phone/2' })
  const laptop = await loggedIn(t, app, 'bob', TEST_PASSWORD, clock)
  const listed = await admin.request('GET', `/auth/admin/users/${bobId}/sessions`)
  t.equal(listed.statusCode, 200)
  const sessions = listed.json().sessions as Array<{ id: string, userAgent: string, current: boolean, clientAddress: string }>
  t.equal(sessions.length, 3, 'bob\'s three sessions')
  t.ok(sessions.every((s) => !s.current && s.clientAddress === '127.0.0.1'))
  const phoneId = (await phone.request('GET', '/auth/session')).json().session.id as string
  t.ok(sessions.some((s) => s.id === phoneId && s.userAgent === 'Phone/2'))

  t.equal((await admin.request('DELETE', `/auth/admin/users/${bobId}/sessions/${phoneId}`)).statusCode, 204)
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 401, 'the phone is out at once')
  t.equal((await laptop.request('GET', '/auth/session')).statusCode, 200)
  const adminSession = (await admin.request('GET', '/auth/session')).json().session.id as string
  const notBobs = await admin.request('DELETE', `/auth/admin/users/${bobId}/sessions/${adminSession}`)
  t.equal(notBobs.statusCode, 404, 'a session of another user is not bob\'s')
  t.equal(notBobs.json().code, 'ERR_SESSION_NOT_FOUND')
  t.equal((await admin.request('GET', '/auth/session')).statusCode, 200, 'and is untouched')

  t.same((await admin.request('DELETE', `/auth/admin/users/${bobId}/sessions`)).json(), { ended: 2 })
  t.equal((await laptop.request('GET', '/auth/session')).statusCode, 401, 'every session ended')
  t.same((await admin.request('GET', `/auth/admin/users/${bobId}/sessions`)).json(), { sessions: [] })
  t.match(logs.audits('admin.session_ended'), [{ actorId: adminId, userId: bobId, familyId: phoneId }])
  t.match(logs.audits('admin.sessions_ended'), [{ actorId: adminId, userId: bobId }])
  t.equal((await admin.request('GET', `/auth/admin/users/${ANY_ID}/sessions`)).json().code, 'ERR_USER_NOT_FOUND')
  t.equal((await admin.request('DELETE', `/auth/admin/users/${ANY_ID}/sessions`)).json().code, 'ERR_USER_NOT_FOUND')
})

test('admin routes refuse bad input with exact codes, and leave everything as it was', async (t) => {
  const { app, admin, adminId, bobId } = await setup(t)
  const json = { 'content-type': 'application/json' }
  const table: Array<[string, string, string, { body?: unknown, raw?: string, headers?: Record<string, string> }, number, string]> = [
    ['page size 0', 'GET', '/auth/admin/users?limit=0', {}, 400, 'ERR_VALIDATION'],
    ['page size over 200', 'GET', '/auth/admin/users?limit=201', {}, 400, 'ERR_VALIDATION'],
    ['negative offset', 'GET', '/auth/admin/users?offset=-1', {}, 400, 'ERR_VALIDATION'],
    ['offset not a number', 'GET', '/auth/admin/users?offset=abc', {}, 400, 'ERR_VALIDATION'],
    ['empty search', 'GET', '/auth/admin/users?search=', {}, 400, 'ERR_VALIDATION'],
    ['unknown user', 'GET', `/auth/admin/users/${ANY_ID}`, {}, 404, 'ERR_USER_NOT_FOUND'],
    ['id over 100 characters', 'GET', `/auth/admin/users/${'a'.repeat(129)}`, {}, 414, 'ERR_PATH_TOO_LONG'], // Fastify's router, before any route: ids are up to 100 characters in a path (maxParamLength),
    ['create: taken name', 'POST', '/auth/admin/users', { body: { username: 'BOB', password: 'a long new passphrase' } }, 409, 'ERR_USER_EXISTS'],
    ['create: common password', 'POST', '/auth/admin/users', { body: { username: 'gina', password: 'password123' } }, 400, 'ERR_PASSWORD_POLICY'],
    ['create: bad username', 'POST', '/auth/admin/users', { body: { username: '-gina', password: 'a long new passphrase' } }, 400, 'ERR_INVALID_USER_INPUT'],
    ['create: bad role', 'POST', '/auth/admin/users', { body: { username: 'gina', password: 'a long new passphrase', roles: ['has space'] } }, 400, 'ERR_INVALID_USER_INPUT'],
    ['create: 33 roles', 'POST', '/auth/admin/users', { body: { username: 'gina', password: 'a long new passphrase', roles: Array.from({ length: 33 }, (_, i) => `r${i}`) } }, 400, 'ERR_VALIDATION'],
    ['create: no password', 'POST', '/auth/admin/users', { body: { username: 'gina' } }, 400, 'ERR_VALIDATION'],
    ['create: text/plain', 'POST', '/auth/admin/users', { raw: '{"username":"gina","password":"a long new passphrase"}', headers: { 'content-type': 'text/plain' } }, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['create: broken JSON', 'POST', '/auth/admin/users', { raw: '{"username":', headers: json }, 400, 'ERR_MALFORMED_JSON'],
    ['roles: not an array', 'PUT', `/auth/admin/users/${bobId}/roles`, { body: { roles: { admin: true } } }, 400, 'ERR_VALIDATION'],
    ['roles: unknown user', 'PUT', `/auth/admin/users/${ANY_ID}/roles`, { body: { roles: [] } }, 404, 'ERR_USER_NOT_FOUND'],
    ['password: too short', 'PUT', `/auth/admin/users/${bobId}/password`, { body: { password: 'short' } }, 400, 'ERR_PASSWORD_POLICY'],
    ['password: a common one', 'PUT', `/auth/admin/users/${bobId}/password`, { body: { password: 'qwertyuiop' } }, 400, 'ERR_PASSWORD_POLICY'],
    ['password: unknown user', 'PUT', `/auth/admin/users/${ANY_ID}/password`, { body: { password: 'a long new passphrase' } }, 404, 'ERR_USER_NOT_FOUND'],
    ['disable: a body', 'POST', `/auth/admin/users/${bobId}/disable`, { body: { really: true } }, 400, 'ERR_VALIDATION'],
    ['disable: unknown user', 'POST', `/auth/admin/users/${ANY_ID}/disable`, {}, 404, 'ERR_USER_NOT_FOUND'],
    ['delete: unknown user', 'DELETE', `/auth/admin/users/${ANY_ID}`, {}, 404, 'ERR_USER_NOT_FOUND'],
    ['end a session: bad session id', 'DELETE', `/auth/admin/users/${bobId}/sessions/bad!id`, {}, 400, 'ERR_VALIDATION'],
    ['end a session: unknown', 'DELETE', `/auth/admin/users/${bobId}/sessions/${ANY_ID}`, {}, 404, 'ERR_SESSION_NOT_FOUND'],
    ['disable yourself', 'POST', `/auth/admin/users/${adminId}/disable`, {}, 409, 'ERR_ADMIN_SELF_CHANGE'],
    ['delete yourself', 'DELETE', `/auth/admin/users/${adminId}`, {}, 409, 'ERR_ADMIN_SELF_CHANGE'],
    ['take the admin role from yourself', 'PUT', `/auth/admin/users/${adminId}/roles`, { body: { roles: ['ops'] } }, 409, 'ERR_ADMIN_SELF_CHANGE']
  ]
  for (const [label, method, url, input, status, code] of table) {
    const cookie = admin.jar.header(url)
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers: { cookie, ...(input.body === undefined ? {} : json), ...input.headers },
      ...(input.body === undefined && input.raw === undefined ? {} : { payload: input.raw ?? JSON.stringify(input.body) })
    })
    t.equal(response.statusCode, status, `${label}: status`)
    t.equal(response.json().code, code, `${label}: code`)
  }
  t.match((await admin.request('POST', `/auth/admin/users/${adminId}/disable`)).json().message, /cannot disable their own account here; ask another admin, or use the users CLI/)
  t.same((await app.users.list()).map((u) => [u.username, u.roles, u.disabled]), [['root', ['admin'], false], ['bob', ['editor'], false]], 'nothing changed')
  t.equal((await admin.request('GET', '/auth/session')).statusCode, 200, 'the admin is still in')
})

test('who may call an admin route is decided before its input is read: bad parameters, queries and bodies tell a non-admin nothing', async (t) => {
  const { app, clock, admin, bob, bobId } = await setup(t, { REAUTH_MAX_AGE_SECONDS: '5' })
  const json = { 'content-type': 'application/json' }
  // Each is a 400 or 415 for an admin: the route's shape (an id pattern, a body schema, a page size limit).
  const table: Array<[string, string, string, { body?: unknown, raw?: string, headers?: Record<string, string> }, number, string]> = [
    ['malformed session id in the path', 'DELETE', `/auth/admin/users/${bobId}/sessions/bad!id`, {}, 400, 'ERR_VALIDATION'],
    ['page size over the limit', 'GET', '/auth/admin/users?limit=201', {}, 400, 'ERR_VALIDATION'],
    ['unknown query parameter', 'GET', '/auth/admin/users?role=admin', {}, 400, 'ERR_VALIDATION'],
    ['create: no password', 'POST', '/auth/admin/users', { body: { username: 'gina' } }, 400, 'ERR_VALIDATION'],
    ['create: broken JSON', 'POST', '/auth/admin/users', { raw: '{"username":', headers: json }, 400, 'ERR_MALFORMED_JSON'],
    ['create: text/plain', 'POST', '/auth/admin/users', { raw: '{}', headers: { 'content-type': 'text/plain' } }, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['roles: not an array', 'PUT', `/auth/admin/users/${bobId}/roles`, { body: { roles: { admin: true } } }, 400, 'ERR_VALIDATION'],
    ['disable: a body', 'POST', `/auth/admin/users/${bobId}/disable`, { body: { really: true } }, 400, 'ERR_VALIDATION']
  ]
  const send = async (c: Client | null, method: string, url: string, input: { body?: unknown, raw?: string, headers?: Record<string, string> }) => await app.inject({
    method: method as 'GET',
    url,
    headers: { ...(c === null ? {} : { cookie: c.jar.header(url) }), ...(input.body === undefined ? {} : json), ...input.headers },
    ...(input.body === undefined && input.raw === undefined ? {} : { payload: input.raw ?? JSON.stringify(input.body) })
  })
  for (const [label, method, url, input, status, code] of table) {
    const asAdmin = await send(admin, method, url, input)
    t.same([asAdmin.statusCode, asAdmin.json().code], [status, code], `${label}: an admin gets the input error`)
    const asBob = await send(bob, method, url, input)
    t.same([asBob.statusCode, asBob.json().code], [403, 'ERR_FORBIDDEN'], `${label}: a non-admin gets 403, not the input error`)
    const anonymous = await send(null, method, url, input)
    t.same([anonymous.statusCode, anonymous.json().code], [401, 'ERR_SESSION_INVALID'], `${label}: no session, 401`)
  }
  clock.advance(10)
  for (const [label, method, url, input] of table) {
    const stale = await send(admin, method, url, input)
    t.same([stale.statusCode, stale.json().code], [401, 'ERR_REAUTH_REQUIRED'], `${label}: an admin without a recent authentication, 401 first`)
  }
})

test('the last admin: two admins demoting each other at once cannot leave none; ADMIN_ROLE names the role', async (t) => {
  const { app, clock, admin, adminId, logs } = await setup(t, { ADMIN_ROLE: 'ops-admin' })
  t.equal((await admin.request('GET', '/auth/admin/users')).statusCode, 200, 'the configured role opens the routes')
  const secondId = await addUser(app, 'second', TEST_PASSWORD, ['ops-admin'])
  const second = await loggedIn(t, app, 'second', TEST_PASSWORD, clock)
  const answers = await Promise.all([
    admin.request('PUT', `/auth/admin/users/${secondId}/roles`, { roles: [] }),
    second.request('PUT', `/auth/admin/users/${adminId}/roles`, { roles: [] })
  ])
  const statuses = answers.map((a) => a.statusCode)
  t.ok(statuses.includes(200), `one demotion went through (${statuses.join(', ')})`)
  t.ok(statuses.every((s) => [200, 401, 409].includes(s)), 'the other was refused: the last admin (409) or its session already ended (401)')
  const admins = (await app.users.list()).filter((u) => u.roles.includes('ops-admin') && !u.disabled)
  t.equal(admins.length, 1, 'exactly one admin is left')
  const lastId = admins[0]?.id
  const last = lastId === adminId ? admin : second
  const refused = await last.request('PUT', `/auth/admin/users/${lastId as string}/roles`, { roles: [] })
  t.equal(refused.json().code, 'ERR_ADMIN_SELF_CHANGE')
  if (statuses.includes(409)) t.match(logs.audits('admin.refused'), [{ code: 'ERR_LAST_ADMIN', level: 40 }])
  const other = (await app.users.list()).find((u) => u.id !== lastId && u.username !== 'bob')
  t.match((await last.request('PUT', `/auth/admin/users/${other?.id as string}/roles`, { roles: ['ops-admin'] })).json(), { user: { roles: ['ops-admin'] } }, 'an admin can be made again')
})
