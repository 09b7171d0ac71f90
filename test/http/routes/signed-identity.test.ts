/**
 * The signed identity: an EdDSA JWS per allowed forward-auth request, verified with jose against the JWKS
 * (the code of docs/upstreams.md), keys derived from the session secret (every instance agrees, rotation lists
 * both), reused per access token and audience but never after revocation; and the plugin's signedIdentity.
 */
import type { FastifyInstance } from 'fastify'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import * as jose from 'jose'
import { test } from 'tap'
import { deriveAssertionKey } from '../../../src/tokens/assertion-keys.js'
import { addUser, buildTestApp, loggedIn, ManualClock, TEST_PASSWORD, TEST_SECRET, type Client } from '../../helper.js'
import { embeddingApp } from '../plugin-helper.js'
// The verifier docs/upstreams.md shows, run as it is.
import { assertionVerifier } from '../../../docs/examples/upstreams/verify-assertion.mjs'

const OTHER_SECRET = 'another-secret-9876543210-ZYXWVUTSRQPONMLKJIHGFEDCBA'

async function assertionOf (app: FastifyInstance, c: Client, headers: Record<string, string> = {}): Promise<string> {
  const response = await app.inject({ url: '/auth/verify', headers: { cookie: c.jar.header('/'), ...headers } })
  if (response.statusCode !== 200) throw new Error(`verify answered ${response.statusCode}`)
  return response.headers['x-session-assertion'] as string
}

async function jwksOf (app: FastifyInstance): Promise<jose.JSONWebKeySet> {
  const response = await app.inject('/.well-known/jwks.json')
  return response.json<jose.JSONWebKeySet>()
}

test('the assertion: EdDSA JWS with iss, aud (the host accessed), sub, username, roles, sid, auth_time, amr, iat, exp, kid', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { TRUST_PROXY: '127.0.0.1', PUBLIC_ORIGIN: 'https://auth.example.com' } })
  await addUser(app, 'alice', undefined, ['ops'])
  const alice = await loggedIn(t, app, 'alice', undefined, clock)
  const loginAt = clock.seconds
  clock.advance(30)
  const assertion = await assertionOf(app, alice, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/x' })
  const session = (await alice.request('GET', '/auth/session')).json()

  const jwksResponse = await app.inject('/.well-known/jwks.json')
  t.equal(jwksResponse.statusCode, 200)
  t.equal(jwksResponse.headers['cache-control'], 'public, max-age=300')
  t.match(jwksResponse.headers['content-type'], /^application\/jwk-set\+json/)
  const jwks = jwksResponse.json<jose.JSONWebKeySet>()
  t.equal(jwks.keys.length, 1)
  t.same(Object.keys(jwks.keys[0] as object).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x'], 'public parts only (no d)')

  const { payload, protectedHeader } = await jose.jwtVerify(assertion, jose.createLocalJWKSet(jwks), {
    algorithms: ['EdDSA'],
    issuer: 'https://auth.example.com',
    audience: 'app.example.com',
    currentDate: new Date(clock.ms)
  })
  t.same(protectedHeader, { alg: 'EdDSA', typ: 'JWT', kid: jwks.keys[0]?.kid })
  t.same(payload, {
    iss: 'https://auth.example.com',
    aud: 'app.example.com',
    sub: session.user.id,
    username: 'alice',
    roles: ['ops'],
    sid: session.session.id,
    auth_time: loginAt,
    amr: ['pwd'],
    iat: clock.seconds,
    exp: clock.seconds + 120
  }, 'exactly these claims; default lifetime 120 s')
  t.equal(await jose.calculateJwkThumbprint(jwks.keys[0] as jose.JWK), jwks.keys[0]?.kid, 'kid is the RFC 7638 thumbprint')

  const nginx = await assertionOf(app, alice, { 'x-original-url': 'https://wiki.example.com:8443/page' })
  t.equal(jose.decodeJwt(nginx).aud, 'wiki.example.com:8443', 'nginx: the host of X-Original-URL')
  const envoy = await app.inject({ method: 'POST', url: '/auth/envoy/api', headers: { cookie: alice.jar.header('/'), host: 'api.example.com', 'x-forwarded-proto': 'https' } })
  t.equal(jose.decodeJwt(envoy.headers['x-session-assertion'] as string).aud, 'api.example.com', 'Envoy: the original Host')
  const untrusted = await app.inject({ url: '/auth/verify', remoteAddress: '198.51.100.9', headers: { cookie: alice.jar.header('/'), host: 'direct.example', 'x-forwarded-host': 'spoofed.example', 'x-forwarded-uri': '/', 'x-forwarded-proto': 'https' } })
  t.equal(jose.decodeJwt(untrusted.headers['x-session-assertion'] as string).aud, 'direct.example', 'an untrusted peer: its own Host, never its X-Forwarded-Host')

  clock.advance(400)
  t.equal((await alice.request('POST', '/auth/reauth', { password: TEST_PASSWORD })).statusCode, 200)
  const renewed = jose.decodeJwt(await assertionOf(app, alice))
  t.equal(renewed.auth_time, clock.seconds, 'after a re-authentication, auth_time is its time (not the login\'s): an upstream can ask for a recent one')
  t.same(renewed.amr, ['pwd'])

  const longer = await buildTestApp(t, { clock: clock.now, env: { ASSERTION_TTL_SECONDS: '300' } })
  await addUser(longer, 'bob')
  const bob = await loggedIn(t, longer, 'bob', undefined, clock)
  const claims = jose.decodeJwt(await assertionOf(longer, bob))
  t.equal((claims.exp as number) - (claims.iat as number), 300, 'ASSERTION_TTL_SECONDS, at most 300')
  t.equal(claims.iss, 'stateless-session', 'without PUBLIC_ORIGIN: TOKEN_ISSUER')
})

test('keys come from the session secret: instances agree with no set-up; a rotation lists both keys', async (t) => {
  const a = await buildTestApp(t)
  const b = await buildTestApp(t)
  t.same(await jwksOf(a), await jwksOf(b), 'two instances with one secret publish one key')
  t.equal((await jwksOf(a)).keys[0]?.x, deriveAssertionKey(Buffer.from(TEST_SECRET)).jwk.x)

  await addUser(a, 'alice')
  const alice = await loggedIn(t, a)
  const oldAssertion = await assertionOf(a, alice)

  const rotated = await buildTestApp(t, { env: { SESSION_SECRET: OTHER_SECRET, SESSION_PREVIOUS_SECRETS: TEST_SECRET } })
  const jwks = await jwksOf(rotated)
  t.equal(jwks.keys.length, 2, 'current and previous')
  t.equal(jwks.keys[1]?.kid, (await jwksOf(a)).keys[0]?.kid, 'the previous secret\'s key is still listed')
  const local = jose.createLocalJWKSet(jwks)
  await t.resolves(jose.jwtVerify(oldAssertion, local, { algorithms: ['EdDSA'] }), 'an assertion signed before the rotation verifies against the new JWKS')
  await addUser(rotated, 'carol')
  const carol = await loggedIn(t, rotated, 'carol')
  const fresh = await assertionOf(rotated, carol)
  t.equal(jose.decodeProtectedHeader(fresh).kid, jwks.keys[0]?.kid, 'new assertions use the current key')
  await t.rejects(jose.jwtVerify(fresh, jose.createLocalJWKSet(await jwksOf(a)), { algorithms: ['EdDSA'] }), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'an instance without the new secret does not know it')

  const retired = await buildTestApp(t, { env: { SESSION_SECRET: OTHER_SECRET } })
  await t.rejects(jose.jwtVerify(oldAssertion, jose.createLocalJWKSet(await jwksOf(retired)), { algorithms: ['EdDSA'] }), { code: 'ERR_JWKS_NO_MATCHING_KEY' }, 'once the old secret is retired its key is gone')
})

test('reused per access token and audience while more than half its life is left; never after revocation', async (t) => {
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { TRUST_PROXY: '127.0.0.1' } })
  await addUser(app, 'alice', undefined, ['ops'])
  const alice = await loggedIn(t, app, 'alice', undefined, clock)
  const host = (h: string): Record<string, string> => ({ 'x-original-url': `https://${h}/` })

  const first = await assertionOf(app, alice, host('a.example'))
  t.equal(await assertionOf(app, alice, host('a.example')), first, 'the same one again')
  t.not(await assertionOf(app, alice, host('b.example')), first, 'another audience, another assertion')
  clock.advance(59)
  t.equal(await assertionOf(app, alice, host('a.example')), first, 'still reused with 61 s of 120 left')
  clock.advance(2)
  const second = await assertionOf(app, alice, host('a.example'))
  t.not(second, first, 'signed again past half its life')
  t.equal(jose.decodeJwt(second).iat, clock.seconds)

  // A role change reaches the next refresh, whose new access token gets its own assertion.
  await app.users.setRolesOf('alice', ['ops', 'dev'])
  const after = await loggedIn(t, app, 'alice', undefined, clock)
  t.same(jose.decodeJwt(await assertionOf(app, after, host('a.example'))).roles, ['ops', 'dev'], 'a new token, its own roles')

  const kept = after.jar.clone()
  await assertionOf(app, after, host('a.example'))
  t.equal((await after.request('POST', '/auth/logout')).statusCode, 204)
  const response = await app.inject({ url: '/auth/verify', headers: { cookie: kept.header('/'), ...host('a.example') } })
  t.equal(response.statusCode, 401, 'revoked: 401 at once, though an assertion was cached')
  t.equal(response.headers['x-session-assertion'], undefined)
})

test('docs/upstreams.md\'s Node verifier: accepts the assertion from a served JWKS; refuses another audience, a forged or missing one', async (t) => {
  const app = await buildTestApp(t, { env: { PUBLIC_ORIGIN: 'https://auth.example.com' } })
  await addUser(app, 'alice', undefined, ['ops'])
  const alice = await loggedIn(t, app)
  // The JWKS served over real HTTP, as an upstream fetches it.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const jwksUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/.well-known/jwks.json`
  const verify = assertionVerifier({ jwksUrl, issuer: 'https://auth.example.com', audience: 'localhost:80' })
  const assertion = await assertionOf(app, alice)
  t.match(await verify(assertion), { username: 'alice', roles: ['ops'] })
  const other = assertionVerifier({ jwksUrl, issuer: 'https://auth.example.com', audience: 'other.example' })
  await t.rejects(other(assertion), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' })
  const [h, p] = assertion.split('.')
  const forged = `${h as string}.${Buffer.from(JSON.stringify({ ...jose.decodeJwt(assertion), roles: ['admin'] })).toString('base64url')}.${assertion.split('.')[2] as string}`
  t.not(p, forged.split('.')[1])
  await t.rejects(verify(forged), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' })
  await t.rejects(verify(undefined), /no assertion/)

  const doc = readFileSync('docs/upstreams.md', 'utf8')
  const source = readFileSync('docs/examples/upstreams/verify-assertion.mjs', 'utf8')
  t.ok(doc.includes(source.trim()), 'docs/upstreams.md shows this file as it is')
})

test('the embedding plugin mints one for its own calls: app.statelessSession.signedIdentity', async (t) => {
  const server = createServer()
  t.teardown(() => { server.close() })
  const app = await embeddingApp(t, {}, async (app) => {
    app.get('/call-internal', async (request) => ({ assertion: app.statelessSession.signedIdentity(request, 'billing.internal') }))
  })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'ada', password: 'analytical engine' } })
  const cookie = String(login.headers['set-cookie']?.[0]).split(';')[0] as string
  const assertion = (await app.inject({ url: '/call-internal', headers: { cookie } })).json().assertion as string
  const { payload } = await jose.jwtVerify(assertion, jose.createLocalJWKSet(app.statelessSession.jwks as jose.JSONWebKeySet), { algorithms: ['EdDSA'], audience: 'billing.internal' })
  t.match(payload, { sub: 'u-ada', username: 'ada', roles: ['admin'] })
  t.same((await app.inject('/call-internal')).json(), { assertion: null }, 'null without a session')
})
