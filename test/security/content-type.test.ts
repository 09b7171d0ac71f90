/**
 * Request bodies (docs/security.md rules 17 and 21): JSON only. Every Content-Type variant is either parsed AND
 * validated against the route's schema, or refused (415/400) without being parsed; oversized bodies get 413
 * and over-long passwords 400, both before any password hashing.
 */
import { test } from 'tap'
import { TEST_PASSWORD } from '../helper.js'
import { ACCESS, REFRESH, securityApp } from './kit.js'

const LOGIN = JSON.stringify({ username: 'alice', password: TEST_PASSWORD })

/** Content types that name JSON, however spelled: the body is parsed and then validated. */
const JSON_TYPES = [
  'application/json',
  'APPLICATION/JSON',
  'Application/Json; charset=utf-8',
  'application/json ; charset=UTF-8',
  'application/json;charset="utf-8"',
  'application/json;x',
  'application/json;;;',
  '  application/json',
  'application/json; boundary=x; foo=bar'
]

/** Everything else: refused before parsing. */
const REFUSED_TYPES: Array<[string, number, string]> = [
  ['application/jsonx', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/json-patch+json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/x-json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/vnd.api+json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/json, text/plain', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/json/x', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application /json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['text/json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['text/plain', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['text/plain; charset=application/json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['text/plain;application/json', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/x-www-form-urlencoded', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['multipart/form-data; boundary=x', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/xml', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/octet-stream', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['*/*', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['application/*', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE']
]

/** Login bodies under a JSON content type: what validation makes of them. */
const LOGIN_BODIES: Array<[string, string, number, string]> = [
  ['an operator object as username', '{"username":{"$ne":null},"password":"x"}', 400, 'ERR_VALIDATION'],
  ['no password', '{"username":"alice"}', 400, 'ERR_VALIDATION'],
  ['empty password', '{"username":"alice","password":""}', 400, 'ERR_VALIDATION'],
  ['empty username', '{"username":"","password":"x"}', 400, 'ERR_VALIDATION'],
  ['an array', `[${LOGIN}]`, 400, 'ERR_VALIDATION'],
  ['null', 'null', 400, 'ERR_VALIDATION'],
  ['a string', '"alice"', 400, 'ERR_VALIDATION'],
  ['a number', '42', 400, 'ERR_VALIDATION'],
  ['an empty body', '', 400, 'ERR_VALIDATION'],
  ['a password object', '{"username":"alice","password":{"toString":"x"}}', 400, 'ERR_VALIDATION'],
  ['a username of 129 characters', JSON.stringify({ username: 'a'.repeat(129), password: 'x' }), 400, 'ERR_VALIDATION'],
  ['a password of 1025 characters', JSON.stringify({ username: 'alice', password: 'p'.repeat(1025) }), 400, 'ERR_VALIDATION'],
  ['__proto__ key', `{"__proto__":{"admin":true},${LOGIN.slice(1)}`, 400, 'ERR_MALFORMED_JSON'],
  ['constructor.prototype key', `{"constructor":{"prototype":{"admin":true}},${LOGIN.slice(1)}`, 400, 'ERR_MALFORMED_JSON'],
  ['truncated JSON', LOGIN.slice(0, -1), 400, 'ERR_MALFORMED_JSON'],
  ['trailing junk', `${LOGIN}x`, 400, 'ERR_MALFORMED_JSON'],
  ['two documents', `${LOGIN}${LOGIN}`, 400, 'ERR_MALFORMED_JSON'],
  ['a body over 8 KiB', JSON.stringify({ username: 'alice', password: 'p'.repeat(9000) }), 413, 'ERR_BODY_TOO_LARGE']
]

test('login: JSON content types are parsed and validated, every other type is refused unparsed', async (t) => {
  const { app } = await securityApp(t, { login: false })
  let checks = 0
  const verify = app.users.verifyCredentials.bind(app.users)
  app.users.verifyCredentials = async (username, password) => { checks++; return await verify(username, password) }
  const post = async (type: string | undefined, payload: string) => await app.inject({
    method: 'POST',
    url: '/auth/login',
    headers: type === undefined ? {} : { 'content-type': type },
    payload
  })

  for (const type of JSON_TYPES) {
    t.equal((await post(type, LOGIN)).statusCode, 200, `${JSON.stringify(type)}: parsed, valid: 200`)
    const invalid = await post(type, '{"username":["alice","bob"],"password":1}')
    t.equal(invalid.statusCode, 400, `${JSON.stringify(type)}: parsed, then validated`)
    t.equal(invalid.json().code, 'ERR_VALIDATION', `${JSON.stringify(type)}: ERR_VALIDATION`)
  }
  const before = checks
  for (const [type, status, code] of REFUSED_TYPES) {
    const response = await post(type, LOGIN)
    t.equal(response.statusCode, status, `${JSON.stringify(type)}: ${status}`)
    t.equal(response.json().code, code, `${JSON.stringify(type)}: ${code}`)
  }
  const untyped = await post(undefined, LOGIN)
  t.equal(untyped.statusCode, 415, 'no content type with a body: 415')
  for (const [name, payload, status, code] of LOGIN_BODIES) {
    const response = await post('application/json', payload)
    t.equal(response.statusCode, status, `${name}: ${status}`)
    t.equal(response.json().code, code, `${name}: ${code}`)
    t.equal(response.headers['set-cookie'], undefined, `${name}: no cookie`)
  }
  t.equal(checks, before, 'no refused or invalid body reached the password check')
  t.equal(({} as Record<string, unknown>)['admin'], undefined, 'no prototype pollution')
})

test('routes without input take no body, an empty one or {}: anything else is refused and changes nothing', async (t) => {
  const { app, alice, clock } = await securityApp(t, { env: { RATE_LIMIT_REFRESH_IP_MAX: '1000' } })
  const refreshToken = alice.jar.get(REFRESH)
  const bad: Array<[string, string | undefined, string, number, string]> = [
    ['a JSON object with members', 'application/json', '{"a":1}', 400, 'ERR_VALIDATION'],
    ['a JSON array', 'application/json', '[]', 400, 'ERR_VALIDATION'],
    ['JSON null', 'application/json', 'null', 400, 'ERR_VALIDATION'],
    ['a JSON string', 'application/json', '"x"', 400, 'ERR_VALIDATION'],
    ['JSON false', 'application/json', 'false', 400, 'ERR_VALIDATION'],
    ['broken JSON', 'application/json', '{', 400, 'ERR_MALFORMED_JSON'],
    ['__proto__', 'application/json', '{"__proto__":{}}', 400, 'ERR_MALFORMED_JSON'],
    ['text/plain', 'text/plain', 'x', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['text/plain, empty', 'text/plain', '', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a form', 'application/x-www-form-urlencoded', 'a=1', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['multipart', 'multipart/form-data; boundary=x', '--x--', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a body without a type', undefined, 'x', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['a body over 8 KiB', 'application/json', JSON.stringify({ pad: 'x'.repeat(9000) }), 413, 'ERR_BODY_TOO_LARGE']
  ]
  const sessionId = (await alice.request('GET', '/auth/session')).json().session.id as string
  for (const [method, url] of [['POST', '/auth/refresh'], ['POST', '/auth/logout'], ['POST', '/auth/logout-all'], ['DELETE', `/auth/sessions/${sessionId}`]] as const) {
    for (const [name, type, payload, status, code] of bad) {
      const injected = await app.inject({ method, url, headers: { cookie: alice.jar.header(url), ...(type === undefined ? {} : { 'content-type': type }) }, payload })
      t.equal(injected.statusCode, status, `${method} ${url}, ${name}: ${status}`)
      t.equal(injected.json().code, code, `${method} ${url}, ${name}: ${code}`)
      t.equal(injected.headers['set-cookie'], undefined, `${method} ${url}, ${name}: no cookie`)
    }
  }
  t.equal(alice.jar.get(REFRESH), refreshToken, 'nothing rotated')
  t.equal((await alice.request('GET', '/auth/session')).statusCode, 200, 'nothing revoked')
  clock.advance(1)
  for (const [type, payload] of [[undefined, undefined], ['application/json', ''], ['application/json', '{}'], ['application/json; charset=utf-8', ' { } ']] as const) {
    const response = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: alice.jar.header('/auth/refresh'), ...(type === undefined ? {} : { 'content-type': type }) }, ...(payload === undefined ? {} : { payload }) })
    t.equal(response.statusCode, 200, `refresh with ${JSON.stringify(payload)} as ${String(type)}: 200`)
    alice.jar.store(response)
  }
  t.ok(alice.jar.get(ACCESS))
})
