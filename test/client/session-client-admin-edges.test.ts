/**
 * The admin half of the browser client against bodies the service never sends: each method refuses the wrong
 * shape with ERR_UNEXPECTED_RESPONSE (and the HTTP status it came with) rather than handing it to the page.
 * The fetch is scripted; the admin routes themselves are tested in session-client-accounts.test.ts.
 */
import { test } from 'tap'
import { createSessionClient } from '../../src/client/session-client.js'
import { json, scriptedFetch } from './fake-browser.js'

const account = { id: 'u1', username: 'alice', roles: [], disabled: false, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' }

test('admin methods refuse bodies of the wrong shape', async (t) => {
  const fetch = scriptedFetch([
    () => json(200, { users: 'all of them', total: 1 }),
    () => json(200, { users: [account], total: '1' }),
    () => json(200, { users: [account], total: 1 }),
    () => json(200, { user: { ...account, roles: 'admin' } }),
    () => json(200, { account }),
    () => json(200, { ended: 'two' }),
    () => json(200, { ended: 2 })
  ])
  const client = createSessionClient({ fetch, broadcastChannel: null, locks: null })
  t.teardown(() => { client.close() })
  const unexpected = { status: 200, code: 'ERR_UNEXPECTED_RESPONSE' }
  t.match(await client.admin.listUsers().catch((e: unknown) => e), unexpected, 'users not a list')
  t.match(await client.admin.listUsers({ search: 'al' }).catch((e: unknown) => e), unexpected, 'total not a number')
  t.same(await client.admin.listUsers(), { users: [account], total: 1 })
  t.match(await client.admin.getUser('u1').catch((e: unknown) => e), unexpected, 'roles not a list')
  t.match(await client.admin.disableUser('u1').catch((e: unknown) => e), unexpected, 'no user member')
  t.match(await client.admin.endSessions('u1').catch((e: unknown) => e), unexpected, 'ended not a number')
  t.equal(await client.admin.endSessions('u1'), 2)
  t.same(fetch.calls.map((c) => `${c.method} ${c.path}`), [
    'GET /auth/admin/users',
    'GET /auth/admin/users?search=al',
    'GET /auth/admin/users',
    'GET /auth/admin/users/u1',
    'POST /auth/admin/users/u1/disable',
    'DELETE /auth/admin/users/u1/sessions',
    'DELETE /auth/admin/users/u1/sessions'
  ])
})
