/**
 * Answers Fastify and Node produce before any route runs (an over-long path parameter, malformed
 * percent-encoding, oversized headers, unparsable HTTP): the standalone service gives them its own error
 * shape (docs/errors.md), `Cache-Control: no-store` and the security headers, never echoes the path, and logs them.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { connect } from 'node:net'
import { test } from 'tap'
import { frameworkErrorHandler } from '../../src/http/framework-errors.js'
import { SECURITY_HEADERS } from '../../src/http/security-headers.js'
import { addUser, buildTestApp, loggedIn } from '../helper.js'
import { LogCapture } from '../security/kit.js'

const LONG = 'q'.repeat(120)

/** Writes raw bytes to the listening app and returns everything it answers before closing the connection. */
async function rawExchange (app: FastifyInstance, data: string): Promise<string> {
  const { port } = app.server.address() as { port: number }
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('close', () => { resolve(answer) })
    socket.on('error', reject)
    socket.write(data)
  })
}

/** Status, headers (lower-case names) and parsed body of a raw HTTP/1.1 answer. */
function parseRaw (answer: string): { statusLine: string, headers: Record<string, string>, body: Record<string, unknown> } {
  const [head = '', body = ''] = answer.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((line) => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
  }))
  return { statusLine, headers, body: JSON.parse(body) as Record<string, unknown> }
}

test('an over-long path parameter and malformed percent-encoding get our error shape and headers, without the path', async (t) => {
  const logs = new LogCapture()
  const app = await buildTestApp(t, { env: { LOG_LEVEL: 'info' }, logger: logs.logger('info') })
  await addUser(app, 'alice', undefined, ['admin'])
  const alice = await loggedIn(t, app)
  const cases: Array<[string, string, string, number, string, string]> = [
    ['end a session, id over 100 characters', 'DELETE', `/auth/sessions/${LONG}`, 414, 'ERR_PATH_TOO_LONG', 'URI Too Long'],
    ['admin: user id over 100 characters', 'GET', `/auth/admin/users/${LONG}`, 414, 'ERR_PATH_TOO_LONG', 'URI Too Long'],
    ['admin: session id over 100 characters', 'DELETE', `/auth/admin/users/u1/sessions/${LONG}`, 414, 'ERR_PATH_TOO_LONG', 'URI Too Long'],
    ['malformed percent-encoding in an auth path', 'DELETE', '/auth/sessions/%zz', 400, 'ERR_MALFORMED_URL', 'Bad Request'],
    ['malformed percent-encoding under the prefix', 'GET', '/auth/%E0%A4%A', 400, 'ERR_MALFORMED_URL', 'Bad Request'],
    ['malformed percent-encoding elsewhere', 'GET', '/qqqq/%zz', 400, 'ERR_MALFORMED_URL', 'Bad Request']
  ]
  for (const [name, method, url, status, code, reason] of cases) {
    const response = await alice.request(method, url)
    t.equal(response.statusCode, status, `${name}: ${status}`)
    const body = response.json()
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `${name}: our four fields`)
    t.match(body, { statusCode: status, code, error: reason }, `${name}: code and reason phrase`)
    t.notMatch(response.body, /qqqq|%zz|%E0|sessions|admin/, `${name}: the path is not echoed`)
    t.equal(response.headers['cache-control'], 'no-store', `${name}: no-store`)
    t.match(response.headers['content-type'], /^application\/json/, `${name}: JSON`)
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(response.headers[header], value, `${name}: ${header}`)
  }
  t.same(logs.records.filter((r) => r['msg'] === 'request rejected before routing').map((r) => [r['statusCode'], r['code']]),
    cases.map(([, , , status, code]) => [status, code]), 'each answer logged with its code')
  t.ok(logs.records.some((r) => r['msg'] === 'incoming request' && typeof r['reqId'] === 'string' && (r['req'] as { url?: string } | undefined)?.url === '/auth/sessions/%zz'), 'the request is logged')
})

test('any other framework error (a failing async route constraint) is a logged 500 ERR_INTERNAL, its message kept out', async (t) => {
  const logs = new LogCapture()
  const app = Fastify({ logger: logs.logger('info') })
  t.teardown(async () => await app.close())
  const handler = frameworkErrorHandler({ cookieSecure: false, isTrustedProxy: () => false, countResponse: undefined })
  const error = Object.assign(new Error('Unexpected error from async constraint'), { code: 'FST_ERR_ASYNC_CONSTRAINT', statusCode: 500 }) as FastifyError
  app.get('/constrained', (request, reply) => { handler(error, request, reply) })
  const response = await app.inject({ method: 'GET', url: '/constrained' })
  t.equal(response.statusCode, 500)
  t.same(response.json(), { statusCode: 500, code: 'ERR_INTERNAL', error: 'Internal Server Error', message: 'Internal server error' })
  t.equal(response.headers['cache-control'], 'no-store')
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  t.match(logs.records.filter((r) => r['msg'] === 'request failed'), [{ level: 50, code: 'ERR_INTERNAL', err: { code: 'FST_ERR_ASYNC_CONSTRAINT' } }])
})

test('unknown routes under the prefix already answer 404 in our shape with no-store and the security headers', async (t) => {
  const app = await buildTestApp(t)
  // GET /auth/sessions/<long> matches no route at all: the parameter length is only checked for a route that has one.
  for (const [method, url] of [['GET', '/auth/nothing'], ['POST', '/auth/sessions/x/y'], ['GET', `/auth/sessions/${LONG}`]] as const) {
    const response = await app.inject({ method, url })
    t.equal(response.statusCode, 404, `${method} ${url.slice(0, 30)}`)
    t.equal(response.json().code, 'ERR_ROUTE_NOT_FOUND')
    t.equal(response.headers['cache-control'], 'no-store')
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(response.headers[header], value, header)
  }
})

test('the 404 answer never echoes the request: one fixed message, whatever the method and path', async (t) => {
  const app = await buildTestApp(t)
  const hostile = ['/<script>alert(1)</script>', '/auth/%3Cimg%20src=x%3E', `/${'x'.repeat(300)}`, '/nope?q=<b>']
  for (const url of hostile) {
    for (const method of ['GET', 'POST', 'PROPFIND'] as const) {
      const response = await app.inject({ method, url })
      t.same(response.json(), { statusCode: 404, code: 'ERR_ROUTE_NOT_FOUND', error: 'Not Found', message: 'Route not found' }, `${method} ${url.slice(0, 30)}`)
      t.notMatch(response.body, /script|img|xxx|nope|POST|PROPFIND/, `${method} ${url.slice(0, 30)}: neither path nor method in the body`)
    }
  }
})

test('oversized headers and unparsable requests over the network get our error shape and headers', async (t) => {
  const logs = new LogCapture()
  const app = await buildTestApp(t, { env: { LOG_LEVEL: 'info' }, logger: logs.logger('info') })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const cases: Array<[string, string, number, string, string]> = [
    ['headers over 16 KiB', `GET /auth/session HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'ERR_HEADERS_TOO_LARGE', 'Request Header Fields Too Large'],
    ['a header line without a colon', 'GET /auth/session HTTP/1.1\r\nHost: localhost\r\nnot a header\r\n\r\n', 400, 'ERR_MALFORMED_REQUEST', 'Bad Request']
  ]
  for (const [name, data, status, code, reason] of cases) {
    const { statusLine, headers, body } = parseRaw(await rawExchange(app, data))
    t.equal(statusLine, `HTTP/1.1 ${status} ${reason}`, `${name}: status line`)
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `${name}: our four fields`)
    t.match(body, { statusCode: status, code, error: reason }, `${name}: body`)
    t.equal(headers['cache-control'], 'no-store', `${name}: no-store`)
    t.equal(headers['connection'], 'close', `${name}: connection closed`)
    t.match(headers['content-type'], /^application\/json/, `${name}: JSON`)
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(headers[header], value, `${name}: ${header}`)
  }
  t.same(logs.records.filter((r) => r['msg'] === 'client error').map((r) => r['code']), ['ERR_HEADERS_TOO_LARGE', 'ERR_MALFORMED_REQUEST'], 'logged with their codes')
})

test('a request whose headers arrive too slowly gets 408 in our shape; a reset connection gets nothing', async (t) => {
  const app = await buildTestApp(t)
  const socket = (): { written: string[], destroyed: boolean, writable: boolean, write: (s: string) => boolean, destroy: () => void } => {
    const fake = { written: [] as string[], destroyed: false, writable: true, write: (s: string) => { fake.written.push(s); return true }, destroy: () => { fake.destroyed = true } }
    return fake
  }
  const slow = socket()
  app.server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), slow)
  const { statusLine, headers, body } = parseRaw(slow.written.join(''))
  t.equal(statusLine, 'HTTP/1.1 408 Request Timeout')
  t.match(body, { statusCode: 408, code: 'ERR_REQUEST_TIMEOUT', error: 'Request Timeout' })
  t.equal(headers['cache-control'], 'no-store')
  t.equal(headers['content-length'], String(Buffer.byteLength(JSON.stringify(body))))
  t.ok(slow.destroyed, 'the connection is closed')

  const reset = socket()
  app.server.emit('clientError', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), reset)
  t.same(reset.written, [], 'nothing written to a reset connection')
  const gone = socket()
  gone.destroyed = true
  app.server.emit('clientError', Object.assign(new Error('parse'), { code: 'HPE_INVALID_METHOD' }), gone)
  t.same(gone.written, [], 'nothing written to a connection already destroyed')
  const closed = socket()
  closed.writable = false
  app.server.emit('clientError', Object.assign(new Error('parse'), { code: 'HPE_INVALID_METHOD' }), closed)
  t.same(closed.written, [], 'nothing written to a connection that cannot be written')
  t.ok(closed.destroyed)
})

test('a parser error on a TLS socket carries HSTS with Secure cookies, as every other answer over https', async (t) => {
  const fake = (encrypted: boolean): { written: string[], destroyed: boolean, writable: boolean, encrypted: boolean, write: (s: string) => boolean, destroy: () => void } => {
    const socket = { written: [] as string[], destroyed: false, writable: true, encrypted, write: (s: string) => { socket.written.push(s); return true }, destroy: () => { socket.destroyed = true } }
    return socket
  }
  const hstsOf = (app: FastifyInstance, encrypted: boolean): string | undefined => {
    const socket = fake(encrypted)
    app.server.emit('clientError', Object.assign(new Error('parse'), { code: 'HPE_INVALID_METHOD' }), socket)
    return parseRaw(socket.written.join('')).headers['strict-transport-security']
  }
  const secure = await buildTestApp(t)
  t.equal(hstsOf(secure, true), 'max-age=31536000; includeSubDomains', 'TLS socket, Secure cookies: HSTS')
  t.equal(hstsOf(secure, false), undefined, 'plain socket: none (X-Forwarded-Proto was never read)')
  const plain = await buildTestApp(t, { env: { COOKIE_SECURE: 'false' } })
  t.equal(hstsOf(plain, true), undefined, 'COOKIE_SECURE=false: none')
})

test('health answers are never cached; the OpenAPI document and the JWKS carry the security headers', async (t) => {
  const app = await buildTestApp(t)
  for (const url of ['/healthz', '/readyz']) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 200, url)
    t.equal(response.headers['cache-control'], 'no-store', `${url}: no-store`)
    for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(response.headers[header], value, `${url}: ${header}`)
  }
  const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  t.equal(jwks.statusCode, 200)
  t.equal(jwks.headers['cache-control'], 'public, max-age=300', 'the JWKS stays cacheable')
  t.match(jwks.headers['content-type'], /^application\/jwk-set\+json/)
  for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(jwks.headers[header], value, `JWKS: ${header}`)
  const openapi = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(openapi.statusCode, 200)
  t.equal(openapi.headers['cache-control'], 'no-cache')
  for (const [header, value] of Object.entries(SECURITY_HEADERS)) t.equal(openapi.headers[header], value, `openapi.json: ${header}`)
})
