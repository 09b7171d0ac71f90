/** COOKIE_DOMAIN: the access cookie becomes `__Secure-session` with Domain=, for one auth host serving subdomains. */
import { test } from 'tap'
import { addUser, buildTestApp, loggedIn, parseSetCookie, setCookieHeaders } from '../../helper.js'

test('COOKIE_DOMAIN: __Secure-session with Domain, read by every check, cleared with the same attributes; refresh stays host-only', async (t) => {
  const app = await buildTestApp(t, { env: { COOKIE_DOMAIN: 'example.com' } })
  await addUser(app)
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: 'correct horse battery staple' } })
  const cookies = setCookieHeaders(login).map(parseSetCookie)
  t.same(cookies.map((c) => [c.name, c.attributes['domain'], c.attributes['path'], c.attributes['secure'], c.attributes['httponly'], c.attributes['samesite']]), [
    ['__Secure-session', 'example.com', '/', true, true, 'Lax'],
    ['__Secure-refresh', undefined, '/auth', true, true, 'Strict']
  ])
  const access = cookies[0]?.value as string
  t.equal((await app.inject({ url: '/auth/verify', headers: { cookie: `__Secure-session=${access}` } })).statusCode, 200, 'forward-auth reads it')
  t.equal((await app.inject({ url: '/auth/session', headers: { cookie: `__Secure-session=${access}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/auth/verify', headers: { cookie: `__Host-session=${access}` } })).statusCode, 401, 'the host-only name is not read')

  const logout = await app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie: `__Secure-session=${access}` } })
  const cleared = setCookieHeaders(logout).map(parseSetCookie)
  t.same(cleared.map((c) => [c.name, c.value, c.attributes['max-age'], c.attributes['domain']]), [
    ['__Secure-session', '', '0', 'example.com'],
    ['__Secure-refresh', '', '0', undefined]
  ], 'cleared with the same Domain')

  const dotted = await buildTestApp(t, { env: { COOKIE_DOMAIN: '.example.com' } })
  await addUser(dotted)
  const c = await loggedIn(t, dotted)
  t.equal(c.jar.cookies.get('__Secure-session')?.attributes['domain'], 'example.com', 'a leading dot is dropped')
  const doc = (await dotted.inject('/openapi.json')).json<{ components: { securitySchemes: { accessCookie: { name: string } } } }>()
  t.equal(doc.components.securitySchemes.accessCookie.name, '__Secure-session', 'OpenAPI names it')
})

test('without COOKIE_DOMAIN nothing changes: __Host-session, no Domain', async (t) => {
  const app = await buildTestApp(t)
  await addUser(app)
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: 'correct horse battery staple' } })
  const access = setCookieHeaders(login).map(parseSetCookie)[0]
  t.equal(access?.name, '__Host-session')
  t.equal(access?.attributes['domain'], undefined)
})

test('COOKIE_DOMAIN with COOKIE_SECURE=false: a plain `session` cookie with Domain', async (t) => {
  const app = await buildTestApp(t, { env: { COOKIE_DOMAIN: 'example.test', COOKIE_SECURE: 'false' } })
  await addUser(app)
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: 'correct horse battery staple' } })
  const access = setCookieHeaders(login).map(parseSetCookie)[0]
  t.same([access?.name, access?.attributes['domain'], access?.attributes['secure']], ['session', 'example.test', undefined])
})
