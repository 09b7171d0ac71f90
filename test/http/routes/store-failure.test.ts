/**
 * The store goes away (a real SQLite database closed under the service): everything that must record
 * something answers 503 with its own code and records nothing; access checks go on from memory, and a
 * revoked token stays refused. Never a 500.
 */
import { join } from 'node:path'
import { test } from 'tap'
import { openSqliteDatabase } from '../../../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../../../src/stores/sqlite-session-store.js'
import { healthRoutes } from '../../../src/service/health-routes.js'
import { client, ManualClock, tempDir } from '../../helper.js'
import { embeddingApp } from '../plugin-helper.js'

test('store down: 503 ERR_STORE_UNAVAILABLE for what must be recorded, access checks still answer', async (t) => {
  const clock = new ManualClock()
  const db = openSqliteDatabase({ path: join(tempDir(t), 'sessions.db') })
  const store = new SqliteSessionStore(db)
  const app = await embeddingApp(t, { store, clock: clock.now }, async (app) => {
    await app.register(healthRoutes, { store })
  })
  const c = client(app)
  const revoked = client(app)
  await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  await revoked.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  const revokedCopy = revoked.jar.clone()
  t.equal((await revoked.request('POST', '/auth/logout')).statusCode, 204)
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)

  db.close()
  const refreshBefore = c.jar.get('__Secure-refresh')
  const expect503 = async (name: string, method: string, url: string, body?: unknown): Promise<void> => {
    const response = await c.request(method, url, body)
    t.equal(response.statusCode, 503, name)
    t.same(response.json(), { statusCode: 503, code: 'ERR_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The session store is unavailable; try again shortly' })
    t.same(response.headers['set-cookie'], undefined, `${name}: no cookie changed`)
  }
  await expect503('login', 'POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  clock.advance(1)
  await expect503('refresh', 'POST', '/auth/refresh')
  await expect503('sessions', 'GET', '/auth/sessions')
  await expect503('logout-all', 'POST', '/auth/logout-all')
  await expect503('end a session', 'DELETE', '/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA')
  await expect503('logout', 'POST', '/auth/logout')
  t.equal(c.jar.get('__Secure-refresh'), refreshBefore, 'the client keeps its cookies to retry')
  t.equal((await c.request('GET', '/api/me')).statusCode, 200, 'the access check needs no store')
  t.equal((await client(app, revokedCopy).request('GET', '/api/me')).statusCode, 401, 'a revoked token stays refused')
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.json().code, 'ERR_STORE_UNAVAILABLE')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the process is still alive')
})

test('the credential check failing is a 503 too, not a 500', async (t) => {
  const app = await embeddingApp(t, { verifyCredentials: async () => { throw new Error('directory down') } })
  const response = await client(app).request('POST', '/auth/login', { username: 'ada', password: 'x' })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'ERR_STORE_UNAVAILABLE')
})
