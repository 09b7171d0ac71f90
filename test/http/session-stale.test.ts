/**
 * `request.sessionStale` as docs/plugin.md describes it, read by an app's own route: false while the revocation
 * view is confirmed, true (with `request.session` null, and requireSession and requireRecentAuth answering 503)
 * once the store's feed has failed for longer than maxStalenessSeconds, false again once it answers. A request
 * without a session cookie is never "stale": there is no session to vouch for.
 */
import Fastify from 'fastify'
import { test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import type { RevocationBatch } from '../../src/stores/session-store.js'
import { client } from '../helper.js'
import { waitFor } from '../helpers/wait-for.js'
import { baseOptions } from './plugin-helper.js'

/** A shared store whose revocation feed can be cut, as Redis is when unreachable. */
class CuttableFeedStore extends MemorySessionStore {
  cut = false
  override async revocationsSince (cursor: string): Promise<RevocationBatch> {
    if (this.cut) throw new Error('feed unreachable')
    return await super.revocationsSince(cursor)
  }
}

test('request.sessionStale follows the revocation view; the session is withheld while it is stale', async (t) => {
  const store = new CuttableFeedStore()
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(sessionPlugin, baseOptions({ store, maxStalenessSeconds: 3, revocationPollIntervalMs: 20 }))
  app.get('/api/me', { preHandler: app.requireSession }, async (request) => ({ id: request.session?.user.id }))
  app.get('/api/state', async (request) => ({ signedIn: request.session !== null, stale: request.sessionStale }))
  app.post('/api/transfer', { preHandler: app.requireRecentAuth(300) }, async () => ({ done: true }))
  await app.ready()
  const c = client(app)
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).statusCode, 200)
  const state = async (who = c): Promise<{ signedIn: boolean, stale: boolean }> => (await who.request('GET', '/api/state')).json()

  t.same(await state(), { signedIn: true, stale: false })
  t.same(await state(client(app)), { signedIn: false, stale: false }, 'anonymous')

  store.cut = true
  // 3 s: long enough that a busy machine's stalled event loop does not make a healthy view stale.
  await waitFor('the view to go stale', state, (s) => s.stale)
  t.same(await state(), { signedIn: false, stale: true }, 'a valid session is not vouched for')
  const refused = await c.request('GET', '/api/me')
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'ERR_SESSION_STORE_STALE')
  t.same(await state(client(app)), { signedIn: false, stale: false }, 'anonymous: nothing to vouch for')
  const status = await c.request('GET', '/auth/session/status')
  t.equal(status.statusCode, 503, 'the session status does not say "not authenticated" either')
  t.equal(status.json().code, 'ERR_SESSION_STORE_STALE')
  const sensitive = await c.request('POST', '/api/transfer')
  t.equal(sensitive.statusCode, 503, 'requireRecentAuth neither lets it through nor asks to log in again')
  t.equal(sensitive.json().code, 'ERR_SESSION_STORE_STALE')
  t.equal((await client(app).request('POST', '/api/transfer')).statusCode, 401, 'anonymous: 401 as ever')

  store.cut = false
  await waitFor('the view to be confirmed again', state, (s) => !s.stale)
  t.same(await state(), { signedIn: true, stale: false })
  t.equal((await c.request('GET', '/api/me')).statusCode, 200)
  t.equal((await c.request('POST', '/api/transfer')).statusCode, 200, 'a fresh login is recent enough')
})
