/**
 * Forward-auth: GET|HEAD /auth/verify and /auth/envoy/*, as the proxies call them. Exact statuses, the identity
 * headers, the login redirect, which peers' original-request headers are believed, and what never happens
 * (a 5xx for a bad cookie, a Set-Cookie, a refresh).
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { test } from 'tap'
import { MemorySessionStore } from '../../../src/stores/memory-session-store.js'
import type { RevocationFeedBatch } from '../../../src/stores/session-store.js'
import { addUser, buildTestApp, loggedIn, ManualClock, setCookieHeaders, type Client } from '../../helper.js'
import { waitFor } from '../../helpers/wait-for.js'
import { embeddingApp } from '../plugin-helper.js'

const ACCESS = '__Host-session'
const PROXY = '127.0.0.1'
const STRANGER = '198.51.100.7'
const IDENTITY = ['x-auth-request-user', 'x-auth-request-email', 'x-auth-request-groups', 'remote-user', 'remote-name', 'remote-groups']

async function forwardAuthApp (t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}, clock = new ManualClock()): Promise<FastifyInstance> {
  const app = await buildTestApp(t, { clock: clock.now, env: { TRUST_PROXY: PROXY, ...env } })
  await addUser(app, 'alice', undefined, ['ops', 'dev'])
  await addUser(app, 'bob@example.com', undefined, [])
  return app
}

async function verify (app: FastifyInstance, c: Client | null, options: { url?: string, method?: string, headers?: Record<string, string>, remoteAddress?: string, payload?: string } = {}): Promise<LightMyRequestResponse> {
  const url = options.url ?? '/auth/verify'
  const cookie = c?.jar.header('/')
  return await app.inject({
    method: (options.method ?? 'GET') as 'GET',
    url,
    remoteAddress: options.remoteAddress ?? PROXY,
    headers: { ...(cookie === undefined || cookie === '' ? {} : { cookie }), ...options.headers },
    ...(options.payload === undefined ? {} : { payload: options.payload })
  })
}

function refusedAs401 (t: Parameters<typeof buildTestApp>[0], response: LightMyRequestResponse, what: string): void {
  t.equal(response.statusCode, 401, `${what}: 401`)
  t.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"', `${what}: WWW-Authenticate`)
  t.equal(response.headers['cache-control'], 'no-store', `${what}: no-store`)
  t.same(response.json(), { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' }, `${what}: the one 401 body`)
  t.same(setCookieHeaders(response), [], `${what}: no Set-Cookie`)
}

test('a valid session: 200, every identity header of both presets, the assertion, no body, no-store, no cookie', async (t) => {
  const app = await forwardAuthApp(t)
  const alice = await loggedIn(t, app)
  for (const method of ['GET', 'HEAD']) {
    const response = await verify(app, alice, { method })
    t.equal(response.statusCode, 200, `${method} 200 (Envoy allows on 200 only)`)
    t.equal(response.headers['cache-control'], 'no-store')
    t.same(IDENTITY.map((h) => response.headers[h]), ['alice', '', 'ops,dev', 'alice', 'alice', 'ops,dev'], `${method}: identity headers, email empty (not an address) but present`)
    t.match(response.headers['x-session-assertion'], /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWS')
    t.equal(response.body, '', 'no body')
    t.same(setCookieHeaders(response), [], 'never a Set-Cookie')
  }
  const bob = await loggedIn(t, app, 'bob@example.com')
  const response = await verify(app, bob)
  t.same(IDENTITY.map((h) => response.headers[h]), ['bob@example.com', 'bob@example.com', '', 'bob@example.com', 'bob@example.com', ''], 'an e-mail username is the e-mail; no roles is an empty header, still present')
})

test('IDENTITY_HEADERS chooses the headers; ASSERTION_HEADER renames or removes the assertion', async (t) => {
  const app = await forwardAuthApp(t, { IDENTITY_HEADERS: 'authelia, X-User-Id=id,X-Session=session', ASSERTION_HEADER: '' })
  const alice = await loggedIn(t, app)
  const response = await verify(app, alice)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['remote-user'], 'alice')
  t.equal(response.headers['x-auth-request-user'], undefined, 'the oauth2-proxy preset is not listed')
  t.match(response.headers['x-user-id'], /^[\w-]{10,}$/)
  t.match(response.headers['x-session'], /^[\w-]{10,}$/)
  t.equal(response.headers['x-session-assertion'], undefined, 'no assertion')

  const renamed = await forwardAuthApp(t, { ASSERTION_HEADER: 'X-Identity', IDENTITY_HEADERS: '' })
  const c = await loggedIn(t, renamed)
  const r = await verify(renamed, c)
  t.ok(r.headers['x-identity'] !== undefined && r.headers['x-session-assertion'] === undefined, 'renamed')
  t.equal(IDENTITY.filter((h) => r.headers[h] !== undefined).length, 0, 'no identity headers when none are listed')
})

test('no, expired, revoked and hostile sessions: the same 401, never a 5xx, never a refresh', async (t) => {
  const clock = new ManualClock()
  const app = await forwardAuthApp(t, {}, clock)
  refusedAs401(t, await verify(app, null), 'no cookie')

  const alice = await loggedIn(t, app, 'alice', undefined, clock)
  const token = alice.jar.get(ACCESS) as string
  const hostile: Array<[string, string]> = [
    ['garbage', `${ACCESS}=garbage`],
    ['five empty segments', `${ACCESS}=....`],
    ['a JWS instead of a JWE', `${ACCESS}=eyJhbGciOiJIUzI1NiJ9.e30.sig`],
    ['tampered', `${ACCESS}=${token.slice(0, -4)}AAAA`],
    ['twice (no first-wins)', `${ACCESS}=${token}; ${ACCESS}=${token}`],
    ['case variant name', `__host-session=${token}`],
    ['percent signs', `${ACCESS}=%%%%%`],
    ['non-ASCII', `${ACCESS}=é€😀`],
    ['4 KB of junk', `${ACCESS}=${'A'.repeat(4096)}`],
    ['refresh token in the access cookie', `${ACCESS}=${alice.jar.get('__Secure-refresh') as string}`]
  ]
  for (const [what, cookie] of hostile) {
    refusedAs401(t, await app.inject({ url: '/auth/verify', remoteAddress: PROXY, headers: { cookie } }), what)
  }

  t.equal((await verify(app, alice)).statusCode, 200, 'the session itself is fine')
  clock.advance(16 * 60)
  const refresh = alice.jar.get('__Secure-refresh') as string
  refusedAs401(t, await app.inject({ url: '/auth/verify', remoteAddress: PROXY, headers: { cookie: `${ACCESS}=${token}; __Secure-refresh=${refresh}` } }), 'expired (access lifetime 15 min), refresh cookie alongside: not refreshed here')
  const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', headers: { cookie: `__Secure-refresh=${refresh}` } })
  t.equal(refreshed.statusCode, 200, 'the refresh token was not used up by verify')
})

test('revoked at once: logout and logout-all', async (t) => {
  const app = await forwardAuthApp(t)
  const alice = await loggedIn(t, app)
  const kept = alice.jar.clone()
  t.equal((await verify(app, alice)).statusCode, 200)
  t.equal((await alice.request('POST', '/auth/logout')).statusCode, 204)
  refusedAs401(t, await verify(app, { jar: kept, request: alice.request }), 'the access cookie kept from before the logout')

  const other = await loggedIn(t, app)
  const otherKept = other.jar.clone()
  t.equal((await verify(app, other)).statusCode, 200, 'an assertion is cached for this token')
  await other.request('POST', '/auth/logout-all')
  refusedAs401(t, await verify(app, { jar: otherKept, request: other.request }), 'after logout-all, with an assertion cached')
})

test('policy: ?role=a,b admits any listed role; 403 otherwise; invalid policies are a 400 of their own', async (t) => {
  const app = await forwardAuthApp(t)
  const alice = await loggedIn(t, app)
  for (const url of ['/auth/verify?role=ops', '/auth/verify?role=admin,dev', '/auth/verify?role=admin&role=ops']) {
    t.equal((await verify(app, alice, { url })).statusCode, 200, url)
  }
  const refused = await verify(app, alice, { url: '/auth/verify?role=admin,root' })
  t.equal(refused.statusCode, 403)
  t.same(refused.json(), { statusCode: 403, code: 'ERR_FORBIDDEN', error: 'Forbidden', message: 'This needs the admin or root role' })
  t.equal(refused.headers['x-auth-request-user'], undefined, 'no identity on a refusal')
  t.equal(refused.headers['location'], undefined, 'never a redirect on 403 (it would loop)')
  t.equal(refused.headers['cache-control'], 'no-store')

  const invalid = ['/auth/verify?role=', '/auth/verify?role=a,,b', '/auth/verify?role=%20admin', '/auth/verify?group=ops',
    '/auth/verify?role=ops&x=1', '/auth/verify?role=a<b', `/auth/verify?role=${Array.from({ length: 33 }, (_, i) => `r${i}`).join(',')}`]
  for (const url of invalid) {
    const response = await verify(app, alice, { url })
    t.equal(response.statusCode, 400, `${url}: 400, never an open door`)
    t.equal(response.json().code, 'ERR_FORWARD_AUTH_POLICY', url)
  }
  t.equal((await verify(app, null, { url: '/auth/verify?role=' })).statusCode, 400, 'a broken policy is reported even without a session')
})

test('browser navigations go to LOGIN_URL: 302 for GET/HEAD, 303 otherwise, nginx 401 + Location; rd only for allowed hosts', async (t) => {
  const app = await forwardAuthApp(t, { LOGIN_URL: 'https://auth.example.com/login', REDIRECT_HOSTS: 'app.example.com,.corp.example' })
  const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }
  const traefik = (method: string, host: string, uri: string): Record<string, string> =>
    ({ ...html, 'x-forwarded-method': method, 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-uri': uri })

  const get = await verify(app, null, { headers: traefik('GET', 'app.example.com', '/page?x=1&y=2') })
  t.equal(get.statusCode, 302)
  t.equal(get.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fpage%3Fx%3D1%26y%3D2')
  t.equal(get.headers['cache-control'], 'no-store')
  t.equal((await verify(app, null, { headers: traefik('HEAD', 'app.example.com', '/') })).statusCode, 302, 'HEAD: 302')
  const post = await verify(app, null, { headers: traefik('POST', 'app.example.com', '/form') })
  t.equal(post.statusCode, 303, 'POST: 303, so the browser comes back with a GET')
  t.equal(post.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fform')

  const sub = await verify(app, null, { headers: traefik('GET', 'wiki.corp.example', '/') })
  t.equal(sub.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fwiki.corp.example%2F', '.corp.example allows its subdomains')
  for (const host of ['evil.example', 'app.example.com.evil.example', 'corp.example.evil', 'app.example.com:8443']) {
    const response = await verify(app, null, { headers: traefik('GET', host, '/') })
    t.equal(response.headers['location'], 'https://auth.example.com/login', `${host}: not allowed, no rd (no open redirect)`)
  }

  const userinfo = await verify(app, null, { headers: { ...html, 'x-original-url': 'https://evil.example:pw@app.example.com/a', 'x-original-method': 'GET' } })
  t.equal(userinfo.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fa', 'userinfo is dropped from rd: it would read like another site')
  const nginx = await verify(app, null, { headers: { ...html, 'x-original-url': 'https://app.example.com/a', 'x-original-method': 'GET' } })
  t.equal(nginx.statusCode, 401, 'nginx: 401 (a 302 from a sub-request cannot pass)')
  t.equal(nginx.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fa', 'with the Location its error_page uses')
  t.equal(nginx.json().code, 'ERR_SESSION_INVALID')
  // nginx configurations commonly set X-Forwarded-Proto (and a client may add -Host or -Method): beside
  // X-Original-URL they are ignored, not refused; only X-Forwarded-Uri with it is (the next test).
  const nginxWithOthers = await verify(app, null, { headers: { ...html, 'x-original-url': 'https://app.example.com/a', 'x-original-method': 'GET', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example', 'x-forwarded-method': 'POST' } })
  t.equal(nginxWithOthers.statusCode, 401, 'nginx with X-Forwarded-Proto/-Host/-Method: still the 401 of nginx, not a 303 for POST')
  t.equal(nginxWithOthers.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fa', 'the URL of X-Original-URL, not of X-Forwarded-Host')

  const xhr = await verify(app, null, { headers: { ...traefik('GET', 'app.example.com', '/api'), 'x-requested-with': 'XMLHttpRequest' } })
  t.equal(xhr.statusCode, 401, 'XHR: 401 JSON')
  t.equal(xhr.headers['location'], undefined)
  const curl = await verify(app, null, { headers: { accept: '*/*' } })
  t.equal(curl.statusCode, 401, 'curl: 401 JSON')

  const stranger = await verify(app, null, { remoteAddress: STRANGER, headers: traefik('POST', 'app.example.com', '/x') })
  t.equal(stranger.statusCode, 302, 'from an untrusted peer: the method is the request\'s own')
  t.equal(stranger.headers['location'], 'https://auth.example.com/login', 'and the forwarded URL is ignored (no rd)')

  const alice = await loggedIn(t, app)
  t.equal((await verify(app, alice, { headers: traefik('GET', 'app.example.com', '/') })).statusCode, 200, 'a session: no redirect')

  const without = await forwardAuthApp(t)
  t.equal((await verify(without, null, { headers: traefik('GET', 'app.example.com', '/') })).statusCode, 401, 'no LOGIN_URL: 401')
})

test('a path LOGIN_URL and one with a query', async (t) => {
  const app = await forwardAuthApp(t, { LOGIN_URL: '/login?next=1', REDIRECT_HOSTS: 'app.example.com' })
  const response = await verify(app, null, { headers: { accept: 'text/html', 'x-original-url': 'https://app.example.com/' } })
  t.equal(response.headers['location'], '/login?next=1&rd=https%3A%2F%2Fapp.example.com%2F')
})

test('rd never sends a browser back to plain http while cookies are Secure, loopback hosts excepted; COOKIE_SECURE=false allows it', async (t) => {
  const hosts = 'app.example.com,.corp.example,localhost:8080,127.0.0.1:8080,[::1]:8080'
  const nginx = (url: string): Record<string, string> => ({ accept: 'text/html', 'x-original-url': url, 'x-original-method': 'GET' })
  const traefik = (proto: string, host: string): Record<string, string> =>
    ({ accept: 'text/html', 'x-forwarded-method': 'GET', 'x-forwarded-proto': proto, 'x-forwarded-host': host, 'x-forwarded-uri': '/page' })
  const login = 'https://auth.example.com/login'
  const secure = await forwardAuthApp(t, { LOGIN_URL: login, REDIRECT_HOSTS: hosts })
  for (const [what, headers] of [
    ['nginx, an allowed host', nginx('http://app.example.com/page')],
    ['nginx, an allowed subdomain', nginx('http://wiki.corp.example/page')],
    ['Traefik or Caddy, X-Forwarded-Proto: http', traefik('http', 'app.example.com')]
  ] as const) {
    t.equal((await verify(secure, null, { headers })).headers['location'], login, `${what}: no rd (a downgrade from the https service)`)
  }
  const envoy = await verify(secure, null, { url: '/auth/envoy/page', headers: { host: 'app.example.com', accept: 'text/html' } })
  t.equal(envoy.headers['location'], login, 'Envoy without X-Forwarded-Proto (plain http): no rd')
  t.equal((await verify(secure, null, { headers: traefik('https', 'app.example.com') })).headers['location'],
    `${login}?rd=${encodeURIComponent('https://app.example.com/page')}`, 'the same over https: rd')
  for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']) {
    t.equal((await verify(secure, null, { headers: nginx(`http://${host}/page`) })).headers['location'],
      `${login}?rd=${encodeURIComponent(`http://${host}/page`)}`, `http://${host}: rd (loopback: browsers send Secure cookies there)`)
  }

  const plain = await forwardAuthApp(t, { LOGIN_URL: login, REDIRECT_HOSTS: hosts, COOKIE_SECURE: 'false' })
  t.equal((await verify(plain, null, { headers: nginx('http://app.example.com/page') })).headers['location'],
    `${login}?rd=${encodeURIComponent('http://app.example.com/page')}`, 'COOKIE_SECURE=false (plain-http development): rd over http')
  t.equal((await verify(plain, null, { headers: nginx('http://evil.example/page') })).headers['location'], login, 'but still only for REDIRECT_HOSTS')
})

test('original-request headers: only from TRUST_PROXY peers; malformed ones from a trusted proxy are a 400', async (t) => {
  const app = await forwardAuthApp(t)
  const alice = await loggedIn(t, app)
  const bad: Array<[string, Record<string, string>]> = [
    ['relative X-Original-URL', { 'x-original-url': '/path' }],
    ['javascript: X-Original-URL', { 'x-original-url': 'javascript:alert(1)' }],
    ['bad method', { 'x-original-url': 'https://a.example/', 'x-original-method': 'GET /x' }],
    ['bad forwarded proto', { 'x-forwarded-proto': 'ftp', 'x-forwarded-host': 'a.example', 'x-forwarded-uri': '/' }],
    ['bad forwarded host', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example/evil', 'x-forwarded-uri': '/' }],
    ['uri without slash', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example', 'x-forwarded-uri': 'x' }],
    ['both families (a client adding the other proxy\'s header)', { 'x-original-url': 'https://evil.example/', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example', 'x-forwarded-uri': '/' }]
  ]
  for (const [what, headers] of bad) {
    const response = await verify(app, alice, { headers })
    t.equal(response.statusCode, 400, `${what}: 400`)
    t.equal(response.json().code, 'ERR_FORWARD_AUTH_REQUEST', what)
    t.equal((await verify(app, alice, { headers, remoteAddress: STRANGER })).statusCode, 200, `${what}: ignored from an untrusted peer`)
  }
})

test('a forwarded path starting with // (Caddy passes //x on as it came) is a path on the forwarded host, never a host', async (t) => {
  const app = await forwardAuthApp(t, { LOGIN_URL: '/login', REDIRECT_HOSTS: 'app.example.com,evil.example' })
  const alice = await loggedIn(t, app)
  const caddy = (uri: string): Record<string, string> => ({ accept: 'text/html', 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': uri })
  for (const uri of ['//x', '//evil.example/', '///evil.example/a', '//evil.example@app.example.com/', '/\\evil.example/']) {
    const allowed = await verify(app, alice, { headers: caddy(uri) })
    t.equal(allowed.statusCode, 200, `${uri} with a session: 200`)
    const [, payload] = String(allowed.headers['x-session-assertion'] ?? '').split('.')
    t.equal(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()).aud, 'app.example.com', `${uri}: the audience is the forwarded host`)
    const navigation = await verify(app, null, { headers: caddy(uri) })
    t.equal(navigation.statusCode, 302, `${uri} without one: to the login page, not a 400`)
    const rd = new URL(new URL(navigation.headers['location'] as string, 'https://app.example.com').searchParams.get('rd') ?? '')
    t.equal(rd.host, 'app.example.com', `${uri}: rd stays on the forwarded host (evil.example is allowed, and still not reached)`)
  }
  const envoy = await verify(app, null, { url: '/auth/envoy//evil.example/', headers: { host: 'app.example.com', 'x-forwarded-proto': 'https', accept: 'text/html' } })
  t.equal(envoy.statusCode, 302, 'Envoy, //evil.example/: to the login page')
  t.equal(envoy.headers['location'], '/login?rd=https%3A%2F%2Fapp.example.com%2F%2Fevil.example%2F', 'with a path on the forwarded host')
})

test('Envoy ext_authz: any method under /auth/envoy/, the original path and query are not a policy, 200 exactly', async (t) => {
  const app = await forwardAuthApp(t, { LOGIN_URL: 'https://auth.example.com/login', REDIRECT_HOSTS: 'api.example.com' })
  const alice = await loggedIn(t, app)
  // What Envoy sends: the original method, path_prefix + original path, Host, X-Forwarded-Proto, and the
  // headers allowed by allowed_headers (cookie).
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const response = await verify(app, alice, {
      method,
      url: '/auth/envoy/api/items/1?role=nothing&x=1',
      headers: { host: 'api.example.com', 'x-forwarded-proto': 'https', 'content-length': '0' }
    })
    t.equal(response.statusCode, 200, `${method}: 200`)
    t.equal(response.headers['x-auth-request-user'], 'alice')
  }
  const withBody = await verify(app, alice, { method: 'POST', url: '/auth/envoy/upload', headers: { host: 'api.example.com', 'content-type': 'application/x-whatever' }, payload: 'x'.repeat(1000) })
  t.equal(withBody.statusCode, 200, 'a body of any type is dropped unread')
  const browser = await verify(app, null, { method: 'GET', url: '/auth/envoy/page?q=1', headers: { host: 'api.example.com', 'x-forwarded-proto': 'https', accept: 'text/html' } })
  t.equal(browser.statusCode, 302)
  t.equal(browser.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapi.example.com%2Fpage%3Fq%3D1')
  const post = await verify(app, null, { method: 'POST', url: '/auth/envoy/form', headers: { host: 'api.example.com', accept: 'text/html' } })
  t.equal(post.statusCode, 303)
  refusedAs401(t, await verify(app, null, { method: 'DELETE', url: '/auth/envoy/api/items/1', headers: { host: 'api.example.com' } }), 'Envoy, no session')
})

test('stale revocation view: 503 ERR_SESSION_STORE_STALE (the documented case), never a 200', async (t) => {
  const store = new MemorySessionStore()
  // A push feed that never confirms: the view goes stale after maxStalenessSeconds.
  Object.assign(store, {
    waitForRevocations: async (cursor: string, _timeoutMs: number, signal: AbortSignal): Promise<RevocationFeedBatch> => await new Promise((resolve) => {
      signal.addEventListener('abort', () => { resolve({ revocations: [], cursor, complete: false }) })
    })
  })
  const app = await embeddingApp(t, { store, maxStalenessSeconds: 1 })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'ada', password: 'analytical engine' } })
  const cookie = (setCookieHeaders(login)[0] as string).split(';')[0] as string
  const response = await waitFor('the view to go stale', async () => await app.inject({ url: '/auth/verify', headers: { cookie } }), (r) => r.statusCode !== 200)
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'ERR_SESSION_STORE_STALE')
  t.equal(response.headers['cache-control'], 'no-store')
})

test('FORWARD_AUTH=false: no forward-auth routes; bad settings stop the boot naming the variable', async (t) => {
  const off = await forwardAuthApp(t, { FORWARD_AUTH: 'false' })
  t.equal((await off.inject('/auth/verify')).statusCode, 404)
  t.equal((await off.inject('/.well-known/jwks.json')).statusCode, 404)
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ LOGIN_URL: 'javascript:alert(1)' }, /^LOGIN_URL must be an http\(s\) URL/],
    [{ LOGIN_URL: '//evil.example/' }, /^LOGIN_URL must be/],
    [{ LOGIN_URL: 'https://user:pw@auth.example/' }, /^LOGIN_URL must be/],
    [{ LOGIN_URL: 'https://auth.example.com/log in' }, /^LOGIN_URL must be/],
    [{ LOGIN_URL: 'auth.example.com/login' }, /^LOGIN_URL must be/],
    [{ IDENTITY_HEADERS: 'X-User=password' }, /^IDENTITY_HEADERS must be a list of oauth2-proxy, authelia or Header-Name=field/],
    [{ REDIRECT_HOSTS: 'https://app.example.com' }, /^REDIRECT_HOSTS must be a list of lower-case hosts/],
    [{ ASSERTION_TTL_SECONDS: '301' }, /ASSERTION_TTL_SECONDS/],
    [{ COOKIE_DOMAIN: 'https://example.com' }, /COOKIE_DOMAIN must (match pattern|be empty or a lower-case domain)/]
  ]
  for (const [env, message] of bad) {
    await t.rejects(buildTestApp(t, { env }), { message }, JSON.stringify(env))
  }
})

test('identity header values are printable ASCII whatever the profile holds: percent-encoded, never a 500', async (t) => {
  const users = {
    zoe: { id: 'u-zoë\r\nX-Injected: 1', username: 'zoë 100% <script>', roles: ['a,b', 'ops', 'rôle'] },
    lone: { id: 'u-lone', username: 'bad\ud800surrogate', roles: [] as string[] }
  }
  const app = await embeddingApp(t, {
    identityHeaders: ['oauth2-proxy', 'X-User-Id=id'],
    verifyCredentials: async (username) => users[username as keyof typeof users] ?? null
  })
  for (const name of ['zoe', 'lone'] as const) {
    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: name, password: 'x' } })
    t.equal(login.statusCode, 200, `${name} logs in`)
    const cookie = String(setCookieHeaders(login)[0]).split(';')[0] as string
    const response = await app.inject({ url: '/auth/verify', headers: { cookie } })
    t.equal(response.statusCode, 200, `${name}: 200`)
    for (const header of ['x-auth-request-user', 'x-auth-request-groups', 'x-user-id']) {
      t.match(response.headers[header], /^[\x20-\x7e]*$/, `${name}: ${header} is printable ASCII`)
    }
    t.equal(response.headers['x-injected'], undefined, 'no header injection')
    if (name === 'zoe') {
      t.equal(response.headers['x-auth-request-user'], 'zo%C3%AB 100%25 <script>')
      t.equal(response.headers['x-auth-request-groups'], 'a%2Cb,ops,r%C3%B4le', 'a comma inside a role is encoded, the list separator is not')
      t.equal(response.headers['x-user-id'], 'u-zo%C3%AB%0D%0AX-Injected: 1')
    } else {
      t.equal(response.headers['x-auth-request-user'], 'bad%EF%BF%BDsurrogate', 'a lone surrogate becomes U+FFFD')
    }
  }
})
