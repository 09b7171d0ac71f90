/**
 * Where a token may come from (docs/security.md rules 15 and 16): only the exact cookie name counts; case variants
 * and unprefixed look-alikes are ignored, two cookies of one name mean "no session"; never a header, query
 * string or body. The same for the refresh cookie, where a planted duplicate must not rotate anything.
 */
import { test } from 'tap'
import { ACCESS, assertInvalid, INVALID_JSON, REFRESH, refreshWith, securityApp, sessionWith } from './kit.js'

test('access cookie: the exact name, once; nothing else carries a session', async (t) => {
  const { app, alice, forge } = await securityApp(t)
  const token = alice.jar.get(ACCESS) as string
  const other = forge.token('access', { ...forge.open(token, 'access').claims, sub: 'mallory', username: 'mallory' })
  t.equal((await sessionWith(app, `${ACCESS}=${token}`)).statusCode, 200, 'control: the exact cookie works')
  t.equal((await sessionWith(app, `a=1; ${ACCESS}=${token}; b=2`)).statusCode, 200, 'control: among other cookies')

  const refused: Array<[string, string, Record<string, string>?]> = [
    ['lower-case prefix', `__host-session=${token}`],
    ['upper-case name', `__HOST-SESSION=${token}`],
    ['unprefixed look-alike', `session=${token}`],
    ['__Secure- instead of __Host-', `__Secure-session=${token}`],
    ['name with a space inside', `__Host- session=${token}`],
    ['name with a suffix', `__Host-session2=${token}`],
    ['url-encoded name', `__Host%2Dsession=${token}`],
    ['duplicate, same value', `${ACCESS}=${token}; ${ACCESS}=${token}`],
    ['duplicate, planted first', `${ACCESS}=${other}; ${ACCESS}=${token}`],
    ['duplicate, planted last', `${ACCESS}=${token}; ${ACCESS}=${other}`],
    ['duplicate, one empty', `${ACCESS}=; ${ACCESS}=${token}`],
    ['empty value', `${ACCESS}=`],
    ['no value', ACCESS],
    ['the refresh cookie only', `${REFRESH}=${alice.jar.get(REFRESH) as string}`],
    ['Authorization: Bearer', '', { authorization: `Bearer ${token}` }],
    ['Authorization without scheme', '', { authorization: token }],
    ['X-Access-Token header', '', { 'x-access-token': token }],
    ['token in a header named like the cookie', '', { [ACCESS]: token }]
  ]
  for (const [name, cookie, headers] of refused) {
    assertInvalid(t, await sessionWith(app, cookie, headers), name)
  }
  for (const url of [`/auth/session?token=${token}`, `/auth/session?${ACCESS}=${token}`, `/auth/session?access_token=${token}`]) {
    assertInvalid(t, await app.inject({ method: 'GET', url }), `query string ${url.split('?')[1]?.split('=')[0] ?? ''}`)
  }
  const inBody = await app.inject({ method: 'POST', url: '/auth/logout-all', headers: { 'content-type': 'application/json' }, payload: { token } })
  t.equal(inBody.statusCode, 400, 'a token in a body is not even accepted as input')
  t.equal((await sessionWith(app, `${ACCESS}=${token}`)).statusCode, 200, 'and nothing was revoked')
})

test('refresh cookie: the exact name, once; a planted duplicate rotates nothing and is not reuse', async (t) => {
  const { app, alice, clock, forge, logs } = await securityApp(t)
  const refresh = alice.jar.get(REFRESH) as string
  const planted = forge.token('refresh', { ...forge.open(refresh, 'refresh').claims, sid: 'P'.repeat(22), jti: 'Q'.repeat(22) })
  const refused: Array<[string, string]> = [
    ['lower-case prefix', `__secure-refresh=${refresh}`],
    ['unprefixed look-alike', `refresh=${refresh}`],
    ['duplicate, planted first', `${REFRESH}=${planted}; ${REFRESH}=${refresh}`],
    ['duplicate, planted last', `${REFRESH}=${refresh}; ${REFRESH}=${planted}`],
    ['the access cookie only', `${ACCESS}=${alice.jar.get(ACCESS) as string}`]
  ]
  for (const [name, cookie] of refused) {
    const response = await refreshWith(app, cookie)
    assertInvalid(t, response, name)
    // A planted duplicate must not get the genuine cookie deleted (the browser would keep the planted
    // `Domain=` one and fail every refresh after); any other refusal clears both cookies.
    const cleared = (response.headers['set-cookie'] as string[] | undefined ?? []).map((c) => c.split('=')[0])
    t.same(cleared, name.startsWith('duplicate') ? [] : [ACCESS, REFRESH], `${name}: ${name.startsWith('duplicate') ? 'nothing cleared' : 'both cleared'}`)
  }
  t.same(logs.audits('refresh.failed').map((line) => line['reason']), ['missing', 'missing', 'repeated-cookie', 'repeated-cookie', 'missing'], 'the reason of each')
  const bearer = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { authorization: `Bearer ${refresh}` } })
  t.equal(bearer.body, INVALID_JSON, 'Authorization: Bearer')
  clock.advance(1)
  t.equal((await alice.request('POST', '/auth/refresh')).statusCode, 200, 'the real refresh token was never presented: it rotates')
  t.equal(logs.audits('refresh.reuse_detected').length, 0, 'nothing counted as reuse')
})

test('tokens appear only in Set-Cookie: never in a body, a header or a URL of any answer', async (t) => {
  const { app, alice, clock } = await securityApp(t)
  const first = [alice.jar.get(ACCESS) as string, alice.jar.get(REFRESH) as string]
  clock.advance(1)
  const answers = [
    await alice.request('GET', '/auth/session'),
    await alice.request('GET', '/auth/sessions'),
    await alice.request('POST', '/auth/refresh')
  ]
  const tokens = [...first, alice.jar.get(ACCESS) as string, alice.jar.get(REFRESH) as string]
  for (const answer of answers) {
    const { 'set-cookie': _cookies, ...headers } = answer.headers
    for (const token of tokens) {
      t.notOk(answer.body.includes(token), 'not in the body')
      t.notOk(JSON.stringify(headers).includes(token), 'not in another header')
    }
  }
  t.equal(app.printRoutes().includes('token'), false, 'no route takes a token in its path')
})
