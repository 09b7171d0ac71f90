/** The example in docs/examples/protect-a-route.ts works as docs/plugin.md says. */
import { test } from 'tap'
import { buildExampleApp } from '../../docs/examples/protect-a-route.js'
import { client, TEST_SECRET } from '../helper.js'

test('the documented example app protects its route with the session plugin', async (t) => {
  const app = await buildExampleApp({ secret: TEST_SECRET, users: [{ username: 'ada', password: 'analytical engine', roles: ['admin'] }] })
  t.teardown(async () => await app.close())
  const c = client(app)
  t.equal((await c.request('GET', '/api/profile')).statusCode, 401)
  t.same((await c.request('GET', '/api/greeting')).json(), { greeting: 'Hello, stranger' })
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'wrong password' })).statusCode, 401)
  t.equal((await c.request('POST', '/auth/login', { username: 'nobody', password: 'analytical engine' })).statusCode, 401)
  t.equal((await c.request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })).statusCode, 200)
  t.same((await c.request('GET', '/api/profile')).json(), { id: 'user-1', username: 'ada', roles: ['admin'] })
  t.same((await c.request('GET', '/api/greeting')).json(), { greeting: 'Hello, ada' })
  t.equal((await c.request('POST', '/auth/logout')).statusCode, 204)
  t.equal((await c.request('GET', '/api/profile')).statusCode, 401)
})
