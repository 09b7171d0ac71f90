import { join } from 'node:path'
import { test } from 'tap'
import type { SessionUser } from '../../src/stores/session-store.js'
import { openSqliteDatabase } from '../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../src/stores/sqlite-session-store.js'
import { client, tempDir } from '../helper.js'
import { embeddingApp } from './plugin-helper.js'

const ADA: SessionUser = { id: 'u-ada', username: 'ada', roles: [], claims: { tenant: 'acme', seats: 3, trial: false } }
const verifyAda = async (username: string, password: string): Promise<SessionUser | null> => (username === 'ada' && password === 'analytical engine' ? ADA : null)

test('claims from verifyCredentials reach request.session.claims and the session body, and survive refresh and re-authentication', async (t) => {
  const app = await embeddingApp(t, { verifyCredentials: verifyAda }, async (app) => {
    app.get('/api/tenant', async (request) => ({ claims: request.session?.claims ?? null }))
  })
  const c = client(app)
  t.same((await c.request('GET', '/api/tenant')).json(), { claims: null })
  const login = await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  t.equal(login.statusCode, 200)
  t.same(login.json().session.claims, ADA.claims)
  t.same(login.json().user, { id: 'u-ada', username: 'ada', roles: [] }, 'the user body is unchanged')
  t.same((await c.request('GET', '/api/tenant')).json(), { claims: ADA.claims })
  t.same((await c.request('GET', '/auth/session')).json().session.claims, ADA.claims)
  const refreshed = await c.request('POST', '/auth/refresh')
  t.equal(refreshed.statusCode, 200)
  t.same(refreshed.json().session.claims, ADA.claims, 'kept by a refresh without findUser')
  t.same((await c.request('GET', '/api/tenant')).json(), { claims: ADA.claims })
  const reauth = await c.request('POST', '/auth/reauth', { password: 'analytical engine' })
  t.equal(reauth.statusCode, 200)
  t.same(reauth.json().session.claims, ADA.claims, 'kept by a re-authentication')
})

test('a SQLite store keeps the claims with the profile: a refresh reads them back from the file', async (t) => {
  const store = new SqliteSessionStore(openSqliteDatabase({ path: join(tempDir(t), 'sessions.db') }))
  t.teardown(async () => { await store.close() })
  const app = await embeddingApp(t, { verifyCredentials: verifyAda, store })
  const c = client(app)
  await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  const refreshed = await c.request('POST', '/auth/refresh')
  t.equal(refreshed.statusCode, 200)
  t.same(refreshed.json().session.claims, ADA.claims)
})

test('findUser at refresh replaces the claims, as it does the rest of the profile', async (t) => {
  let claims: Record<string, string> | undefined = { tenant: 'acme' }
  const app = await embeddingApp(t, {
    verifyCredentials: verifyAda,
    findUser: async (id) => ({ id, username: 'ada', roles: [], ...(claims === undefined ? {} : { claims }) })
  })
  const c = client(app)
  await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  claims = { tenant: 'globex', locale: 'fr-FR' }
  t.same((await c.request('POST', '/auth/refresh')).json().session.claims, claims)
  claims = undefined
  t.same((await c.request('POST', '/auth/refresh')).json().session.claims, undefined, 'none any more: the member is left out')
})

test('a user without claims: the session body has no claims member', async (t) => {
  const app = await embeddingApp(t)
  const c = client(app)
  const login = (await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).json()
  t.notOk('claims' in login.session, 'the body is as it was before claims existed')
})

test('claims that cannot go into a token are refused at login, with their own codes and no cookie', async (t) => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['nested', { tenant: { id: 1 } }, 'ERR_INVALID_USER_PROFILE', /claims "tenant" must be a string/],
    ['reserved name', { sub: 'root' }, 'ERR_INVALID_USER_PROFILE', /claims name "sub" is reserved/],
    ['too many', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, i])), 'ERR_INVALID_USER_PROFILE', /at most 16 members/],
    ['not an object', 'acme', 'ERR_INVALID_USER_PROFILE', /claims must be a plain object/],
    // Each claim is within bounds, all of them together are not: the cookie check catches it at issue time.
    ['too large for a cookie', Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`claim${i}`, 'v'.repeat(256)])), 'ERR_COOKIE_TOO_LARGE', /\(\d+ bytes, limit 4096\).*claims/]
  ]
  for (const [name, claims, code, message] of cases) {
    const app = await embeddingApp(t, { verifyCredentials: async () => ({ id: 'u', username: 'ada', roles: [], claims } as never) })
    const response = await client(app).request('POST', '/auth/login', { username: 'ada', password: 'x' })
    t.equal(response.statusCode, 500, name)
    t.equal(response.json().code, code, name)
    t.match(response.json().message, message, name)
    t.equal(response.headers['set-cookie'], undefined, `${name}: no cookie`)
  }
})
