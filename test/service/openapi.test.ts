/**
 * /openapi.json: a valid OpenAPI 3.1 document (checked against the official schema) that lists every route
 * the service answers, with its cookie requirements; the Swagger UI at /docs outside production only.
 */
import { Validator } from '@seriousme/openapi-schema-validator'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { buildTestApp } from '../helper.js'

interface OpenApiDocument {
  openapi: string
  info: { title: string, version: string }
  paths: Record<string, Record<string, { tags?: string[], security?: unknown, responses: Record<string, unknown>, summary?: string }>>
  components: { securitySchemes: Record<string, unknown>, schemas: Record<string, unknown> }
}

/**
 * Every route of the app as "METHOD /path", read from printRoutes' tree: each line is a segment appended to
 * its parent's (found by indentation), with the methods it answers in brackets.
 */
export function routesOf (app: FastifyInstance): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes().split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line)
    if (match === null) continue
    const depth = (match[1] ?? '').length / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '') + (match[2] ?? '')
    stack.push(path)
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== '' && m !== 'HEAD')) routes.push(`${method} ${path}`)
  }
  return routes
}

/** Routes that serve the description itself, the UI or the demo page: not API. */
const NOT_API = /^GET \/(openapi\.json|docs.*|demo\/.*|client\/.*|)$/
/** Envoy's check answers every method Fastify knows; OpenAPI can only name the standard ones. */
const UNDESCRIBABLE = /^(?!(GET|POST|PUT|DELETE|PATCH|OPTIONS) )[A-Z-]+ \/auth\/envoy\/\*$/
const FORWARD_AUTH = /^\/(auth\/verify|auth\/envoy\/.*|\.well-known\/jwks\.json)$/

test('/openapi.json is a valid OpenAPI 3.1 document listing every route', async (t) => {
  const app = await buildTestApp(t)
  const response = await app.inject('/openapi.json')
  t.equal(response.statusCode, 200)
  const doc = response.json<OpenApiDocument>()

  const validator = new Validator()
  const result = await validator.validate(response.json<Record<string, unknown>>())
  t.same(result, { valid: true }, 'valid against the OpenAPI 3.1 schema')
  t.equal(validator.version, '3.1')
  t.match(doc.info, { title: 'Stateless session service', version: /^\d+\.\d+\.\d+/ })

  const routes = routesOf(app)
  t.ok(routes.length >= 9, `${routes.length} routes found`)
  const api = routes.filter((route) => !NOT_API.test(route) && !UNDESCRIBABLE.test(route))
  const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).filter((method) => method !== 'head').map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1').replace('{*}', '*')}`))
  t.same(documented.sort(), api.sort(), 'every API route is described, and nothing else')
  t.same(documented.sort(), [
    'DELETE /auth/admin/users/:id',
    'DELETE /auth/envoy/*',
    'GET /.well-known/jwks.json',
    'GET /auth/envoy/*',
    'GET /auth/verify',
    'OPTIONS /auth/envoy/*',
    'PATCH /auth/envoy/*',
    'POST /auth/envoy/*',
    'PUT /auth/envoy/*',
    'DELETE /auth/admin/users/:id/mfa',
    'DELETE /auth/admin/users/:id/sessions',
    'DELETE /auth/admin/users/:id/sessions/:sessionId',
    'DELETE /auth/mfa/totp',
    'DELETE /auth/sessions',
    'DELETE /auth/sessions/:id',
    'GET /auth/admin/users',
    'GET /auth/admin/users/:id',
    'GET /auth/admin/users/:id/sessions',
    'GET /auth/mfa',
    'GET /auth/session',
    'GET /auth/session/status',
    'GET /auth/sessions',
    'GET /healthz',
    'GET /readyz',
    'POST /auth/admin/users',
    'POST /auth/admin/users/:id/disable',
    'POST /auth/admin/users/:id/enable',
    'POST /auth/login',
    'POST /auth/login/second-factor',
    'POST /auth/logout',
    'POST /auth/logout-all',
    'POST /auth/mfa/recovery-codes',
    'POST /auth/mfa/totp',
    'POST /auth/mfa/totp/confirm',
    'POST /auth/password',
    'POST /auth/reauth',
    'POST /auth/refresh',
    'PUT /auth/admin/users/:id/password',
    'PUT /auth/admin/users/:id/roles'
  ].sort(), 'the routes of docs/http-api.md')

  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      t.ok(typeof operation.summary === 'string' && operation.summary.length > 0, `${method} ${path} has a summary`)
      t.same(operation.tags, [FORWARD_AUTH.test(path.replace('{*}', 'x')) ? 'forward-auth' : path.startsWith('/auth/admin/') ? 'admin' : path.startsWith('/auth/') ? 'auth' : 'health'])
      if (path.startsWith('/auth/admin/')) t.same(operation.security, [{ accessCookie: [] }], `${method} ${path} reads the access cookie`)
    }
  }
  t.same(doc.components.securitySchemes, {
    accessCookie: { type: 'apiKey', in: 'cookie', name: '__Host-session', description: 'Access token (HttpOnly), sent with every request to the site.' },
    refreshCookie: { type: 'apiKey', in: 'cookie', name: '__Secure-refresh', description: 'Refresh token (HttpOnly), sent only to /auth.' },
    pendingLoginCookie: { type: 'apiKey', in: 'cookie', name: '__Secure-pending-login', description: 'A login waiting for its second factor (HttpOnly, single use, five minutes), sent only to /auth/login.' }
  })
  const security = (method: string, path: string): unknown => doc.paths[path]?.[method]?.security
  t.same(security('post', '/auth/login'), undefined, 'login needs no cookie')
  t.same(security('post', '/auth/refresh'), [{ refreshCookie: [] }])
  t.same(security('post', '/auth/login/second-factor'), [{ pendingLoginCookie: [] }], 'the second step reads the pending-login cookie')
  t.same(security('post', '/auth/reauth'), [{ accessCookie: [], refreshCookie: [] }], 'reauth reads both cookies')
  t.same(security('post', '/auth/logout'), [{ accessCookie: [] }, { refreshCookie: [] }, {}])
  for (const [method, path] of [['get', '/auth/session'], ['get', '/auth/sessions'], ['delete', '/auth/sessions/{id}'], ['delete', '/auth/sessions'], ['post', '/auth/password'], ['post', '/auth/logout-all']] as const) {
    t.same(security(method, path), [{ accessCookie: [] }], `${method} ${path} reads the access cookie`)
  }
  t.same(security('get', '/auth/verify'), [{ accessCookie: [] }, {}], 'verify reads the access cookie, and answers without one')
  t.equal(security('get', '/.well-known/jwks.json'), undefined, 'the JWKS is public')
  t.ok('ErrorBody' in doc.components.schemas, 'the shared error body keeps its name')
  t.notMatch(response.body, /__proto__|"\$id"/, 'no schema internals')
})

test('with SIGNUP=open the description has the sign-up route, which needs no cookie', async (t) => {
  const app = await buildTestApp(t, { env: { SIGNUP: 'open' } })
  const doc = (await app.inject('/openapi.json')).json<OpenApiDocument>()
  t.match(doc.paths['/auth/signup']?.['post'], { tags: ['auth'], summary: /only with SIGNUP=open/ })
  t.equal(doc.paths['/auth/signup']?.['post']?.security, undefined)
  t.ok(routesOf(app).includes('POST /auth/signup'))
})

test('the description follows the configuration: cookie names and prefix', async (t) => {
  const app = await buildTestApp(t, { env: { COOKIE_SECURE: 'false', AUTH_PREFIX: '/api/session' } })
  const doc = (await app.inject('/openapi.json')).json<OpenApiDocument>()
  t.ok('/api/session/login' in doc.paths)
  t.same(doc.paths['/api/session/refresh']?.['post']?.security, [{ refreshCookie: [] }])
  t.match(doc.components.securitySchemes, { accessCookie: { name: 'session' }, refreshCookie: { name: 'refresh', description: 'Refresh token (HttpOnly), sent only to /api/session.' } })
})

test('the Swagger UI is served at /docs outside production only; /openapi.json always', async (t) => {
  const dev = await buildTestApp(t)
  const ui = await dev.inject('/docs/')
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /text\/html/)
  t.equal((await dev.inject('/docs/json')).statusCode, 200)

  const production = await buildTestApp(t, { env: { NODE_ENV: 'production', SESSION_SECRET: 'kR9vQ2mX7pL4zT8wN1bY6cF3hJ5dG0sA-prod' } })
  t.equal((await production.inject('/docs/')).statusCode, 404)
  t.equal((await production.inject('/docs/json')).statusCode, 404)
  t.equal((await production.inject('/openapi.json')).statusCode, 200)
})
