/**
 * Traefik and Envoy are not in Debian's packages, so these tests send, over real HTTP, exactly the check
 * requests they send (per Traefik's pkg/middlewares/auth/forward.go and Envoy's ext_authz HTTP service, as
 * configured in docs/proxies.md), and check the answers they act on: 200 exactly to allow, the headers they
 * copy, and 401/403/302 passed to the client.
 */
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { decodeJwt } from 'jose'
import { addUser, buildTestApp, TEST_PASSWORD } from '../helper.js'

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

async function send (port: number, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

async function service (t: Parameters<typeof buildTestApp>[0]): Promise<{ port: number, cookie: string }> {
  const app = await buildTestApp(t, { env: { TRUST_PROXY: '127.0.0.1', LOGIN_URL: 'https://auth.example.com/login', REDIRECT_HOSTS: 'app.example.com' } })
  await addUser(app, 'alice', TEST_PASSWORD, ['ops'])
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'alice', password: TEST_PASSWORD } })
  const cookie = String((login.headers['set-cookie'] as string[])[0]).split(';')[0] as string
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as AddressInfo).port, cookie }
}

/** What Traefik's forwardAuth sends: a GET to `address`, the client's headers, and X-Forwarded-*. */
function traefik (client: Record<string, string>, original: { method: string, uri: string }): Record<string, string> {
  return {
    host: 'auth-service:3000',
    'user-agent': 'Mozilla/5.0',
    ...client,
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-host': 'app.example.com',
    'x-forwarded-method': original.method,
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    'x-forwarded-server': 'traefik-1',
    'x-forwarded-uri': original.uri,
    'x-real-ip': '203.0.113.9',
    'accept-encoding': 'gzip'
  }
}

/** What Envoy's ext_authz (HTTP service) sends: the original method, path_prefix + path, allowed headers only. */
function envoy (client: Record<string, string>): Record<string, string> {
  return {
    host: 'app.example.com',
    'content-length': '0',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '203.0.113.9',
    'x-request-id': '5e0c0c1e-3b8e-4f5a-9a55-5d3f4a1d2b11',
    'x-envoy-expected-rq-timeout-ms': '500',
    'x-envoy-internal': 'true',
    ...client
  }
}

test('Traefik forwardAuth: 200 with the authResponseHeaders; 401, 403 and a 302 for a navigation go to the client as they are', async (t) => {
  const { port, cookie } = await service(t)
  const ok = await send(port, 'GET', '/auth/verify', traefik({ cookie, accept: 'application/json' }, { method: 'POST', uri: '/api/items?page=2' }))
  t.equal(ok.status, 200)
  for (const header of ['x-auth-request-user', 'x-auth-request-email', 'x-auth-request-groups', 'remote-user', 'remote-name', 'remote-groups', 'x-session-assertion']) {
    t.type(ok.headers[header], 'string', `${header}: present, for authResponseHeaders to copy (and to replace the client's)`)
  }
  t.equal(decodeJwt(ok.headers['x-session-assertion'] as string).aud, 'app.example.com', 'audience: X-Forwarded-Host')
  t.equal(ok.headers['set-cookie'], undefined, 'nothing for addAuthCookiesToResponse to copy')

  const navigation = await send(port, 'GET', '/auth/verify', traefik({ accept: 'text/html,application/xhtml+xml' }, { method: 'GET', uri: '/dashboard' }))
  t.equal(navigation.status, 302)
  t.equal(navigation.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fdashboard')
  const form = await send(port, 'GET', '/auth/verify', traefik({ accept: 'text/html' }, { method: 'POST', uri: '/form' }))
  t.equal(form.status, 303, 'a form POST: 303 (X-Forwarded-Method)')
  const api = await send(port, 'GET', '/auth/verify', traefik({ accept: 'application/json' }, { method: 'GET', uri: '/api' }))
  t.equal(api.status, 401)
  t.equal(api.headers['www-authenticate'], 'Bearer error="invalid_token"')
  const admin = await send(port, 'GET', '/auth/verify?role=admin', traefik({ cookie }, { method: 'GET', uri: '/admin' }))
  t.equal(admin.status, 403, 'a second middleware with ?role=admin in its address')
})

test('Envoy ext_authz: every method under path_prefix /auth/envoy, 200 exactly, allowed_upstream_headers present', async (t) => {
  const { port, cookie } = await service(t)
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const answer = await send(port, method, '/auth/envoy/api/items/7?expand=true', envoy({ cookie }))
    t.equal(answer.status, 200, `${method}: 200, not 204 (Envoy denies anything else)`)
    t.equal(answer.headers['x-auth-request-user'], 'alice')
    t.equal(decodeJwt(answer.headers['x-session-assertion'] as string).aud, 'app.example.com', 'audience: the original Host')
  }
  const navigation = await send(port, 'GET', '/auth/envoy/dashboard', envoy({ accept: 'text/html' }))
  t.equal(navigation.status, 302, 'a navigation: 302 with Location (allowed_client_headers passes it)')
  t.equal(navigation.headers['location'], 'https://auth.example.com/login?rd=https%3A%2F%2Fapp.example.com%2Fdashboard')
  const denied = await send(port, 'POST', '/auth/envoy/api/items', envoy({}))
  t.equal(denied.status, 401)
  t.equal(denied.headers['www-authenticate'], 'Bearer error="invalid_token"')
  const bad = await send(port, 'GET', '/auth/envoy/api', envoy({ cookie: '__Host-session=' + 'x'.repeat(3000) }))
  t.equal(bad.status, 401, 'a hostile cookie: 401, never a 5xx (Envoy turns those into 403 with status_on_error)')
})

test('docs/proxies.md shows the nginx and Caddy files the tests run, as they are', async (t) => {
  const doc = readFileSync('docs/proxies.md', 'utf8')
  for (const file of ['nginx.conf', 'Caddyfile']) {
    t.ok(doc.includes(readFileSync(`docs/examples/proxies/${file}`, 'utf8').trimEnd()), file)
  }
})
