/**
 * `session.fetch(path)` goes to `baseUrl`, as docs/spa.md shows (`baseUrl: 'https://api.example.com'`, then
 * `session.fetch('/api/orders')`): a path is appended to baseUrl like the auth routes' paths are; an absolute
 * URL, a URL object or a Request goes where it says; without baseUrl a path stays relative to the page.
 */
import { test } from 'tap'
import { createSessionClient, type SessionClientOptions } from '../../src/client/session-client.js'
import { json, scriptedFetch, sessionJson } from './fake-browser.js'

const quiet: SessionClientOptions = { locks: null, broadcastChannel: null, setTimeout: () => 0, clearTimeout: () => {} }
const invalid = (): Response => json(401, { statusCode: 401, code: 'ERR_SESSION_INVALID', error: 'Unauthorized', message: 'No valid session' })

/** The URLs a client's fetch() calls reach, each answered 200. */
async function targets (baseUrl: string | undefined, inputs: Array<string | URL | Request>): Promise<string[]> {
  const seen: string[] = []
  const client = createSessionClient({
    ...quiet,
    ...(baseUrl === undefined ? {} : { baseUrl }),
    fetch: async (input) => {
      seen.push(input instanceof Request ? input.url : String(input))
      return json(200, { ok: true })
    }
  })
  try {
    for (const input of inputs) expectOk(await client.fetch(input))
    return seen
  } finally {
    client.close()
  }
}

function expectOk (response: Response): void {
  if (response.status !== 200) throw new Error(`status ${response.status}`)
}

test('a path goes to baseUrl', async (t) => {
  t.same(await targets('https://api.example.com', ['/api/orders', 'api/orders?page=2', '/api/orders#top']), [
    'https://api.example.com/api/orders',
    'https://api.example.com/api/orders?page=2',
    'https://api.example.com/api/orders#top'
  ])
  t.same(await targets('https://api.example.com/', ['/api/orders']), ['https://api.example.com/api/orders'], 'a trailing slash of baseUrl is not doubled')
  t.same(await targets('https://example.com/service', ['/api/orders']), ['https://example.com/service/api/orders'], 'a baseUrl with a path: appended, as the auth routes are')
})

test('an absolute URL, a URL object or a Request goes where it says', async (t) => {
  t.same(await targets('https://api.example.com', [
    'https://other.example.com/x',
    'HTTP://localhost:3000/x',
    '//cdn.example.com/x',
    new URL('https://other.example.com/y'),
    new Request('https://other.example.com/z')
  ]), [
    'https://other.example.com/x',
    'HTTP://localhost:3000/x',
    '//cdn.example.com/x',
    'https://other.example.com/y',
    'https://other.example.com/z'
  ])
})

test('without baseUrl a path stays relative to the page', async (t) => {
  t.same(await targets(undefined, ['/api/orders', 'api/orders']), ['/api/orders', 'api/orders'])
  t.same(await targets('', ['/api/orders']), ['/api/orders'])
})

test('the retry after a refresh goes to the same resolved URL', async (t) => {
  const now = Date.now()
  const fetch = scriptedFetch([
    () => json(200, sessionJson(now)),
    invalid,
    () => json(200, sessionJson(now, 900, 'session-one-000000000')),
    () => json(200, { orders: [] })
  ])
  const client = createSessionClient({ ...quiet, baseUrl: 'https://api.example.com', fetch })
  t.teardown(() => { client.close() })
  await client.login('alice', 'pw')
  const response = await client.fetch('/api/orders')
  t.same(await response.json(), { orders: [] })
  t.same(fetch.calls.map((call) => `${call.method} ${call.path}`), [
    'POST https://api.example.com/auth/login',
    'GET https://api.example.com/api/orders',
    'POST https://api.example.com/auth/refresh',
    'GET https://api.example.com/api/orders'
  ])
})
