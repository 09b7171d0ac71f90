import { test } from 'tap'
import { addUser, buildTestApp, client, parseSetCookie, setCookieHeaders, TEST_PASSWORD } from '../../helper.js'

test('login sets both cookies with the documented attributes and returns the session', async (t) => {
  const app = await buildTestApp(t)
  const userId = await addUser(app, 'alice', TEST_PASSWORD, ['admin'])
  const c = client(app)
  const response = await c.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  t.equal(response.statusCode, 200)
  const body = response.json()
  t.same(body.user, { id: userId, username: 'alice', roles: ['admin'] })
  t.match(body.session, { id: /^[A-Za-z0-9_-]{22}$/, accessExpiresAt: String, refreshExpiresAt: String, absoluteExpiresAt: String })
  const cookies = setCookieHeaders(response).map(parseSetCookie)
  t.equal(cookies.length, 2)
  const access = cookies.find((c) => c.name === '__Host-session')
  const refresh = cookies.find((c) => c.name === '__Secure-refresh')
  t.same(access?.attributes, { 'max-age': '900', path: '/', httponly: true, secure: true, samesite: 'Lax' })
  t.same(refresh?.attributes, { 'max-age': '604800', path: '/auth', httponly: true, secure: true, samesite: 'Strict' })
  t.equal(response.headers['cache-control'], 'no-store')
  t.notMatch(response.body, access?.value as string, 'no token in the body')
})
