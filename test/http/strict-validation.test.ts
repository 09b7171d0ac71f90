/**
 * docs/errors.md and docs/security.md promise 400 ERR_VALIDATION for a body with members the route does not
 * document, and no type guessing: kept whatever ajv options the embedding app gave Fastify (its default
 * removes unknown members silently and coerces types), without changing the app's own routes.
 */
import Fastify, { type FastifyServerOptions } from 'fastify'
import { test } from 'tap'
import sessionPlugin from '../../src/http/plugin.js'
import { addUser, buildTestApp, loggedIn } from '../helper.js'
import { baseOptions, USERS } from './plugin-helper.js'

const AJV_SETTINGS: Array<[string, FastifyServerOptions['ajv']]> = [
  ['Fastify\'s default ajv', undefined],
  ['an app whose ajv removes every extra member and coerces', { customOptions: { removeAdditional: 'all', coerceTypes: true } }]
]

for (const [label, ajv] of AJV_SETTINGS) {
  test(`login bodies are validated strictly in ${label}`, async (t) => {
    let checks = 0
    const app = Fastify(ajv === undefined ? {} : { ajv })
    t.teardown(async () => await app.close())
    await app.register(sessionPlugin, baseOptions({
      verifyCredentials: async (username, password) => {
        checks++
        return USERS[username]?.password === password ? USERS[username].user : null
      }
    }))
    // The app's own route keeps the app's validator: an extra member is removed there, as the app chose.
    app.post('/api/echo', { schema: { body: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } } }, async (request) => request.body)
    await app.ready()
    const login = async (body: unknown): Promise<{ statusCode: number, json: () => Record<string, unknown> }> =>
      await app.inject({ method: 'POST', url: '/auth/login', payload: body as Record<string, unknown> })

    const refused: unknown[] = [
      { username: 'ada', password: 'analytical engine', remember: true },
      { username: 'ada', password: 'analytical engine', __proto__x: 1 },
      { username: 'ada', password: 12345678 },
      { username: ['ada'], password: 'analytical engine' },
      { username: 'ada', password: true },
      { username: 'ada' }
    ]
    for (const body of refused) {
      const response = await login(body)
      t.equal(response.statusCode, 400, JSON.stringify(body))
      t.equal(response.json()['code'], 'ERR_VALIDATION', JSON.stringify(body))
    }
    t.match((await login(refused[0])).json()['message'], /must NOT have additional properties/)
    t.equal(checks, 0, 'none of them reached the credential check')
    t.equal((await login({ username: 'ada', password: 'analytical engine' })).statusCode, 200)
    t.equal(checks, 1)

    const echo = await app.inject({ method: 'POST', url: '/api/echo', payload: { a: 'x', b: 1 } })
    t.same(echo.json(), { a: 'x' }, 'the app\'s own routes keep its validator')
  })
}

test('the account and admin routes: unknown body members and query members refused, query text converted', async (t) => {
  const app = await buildTestApp(t)
  await addUser(app, 'alice', undefined, ['admin'])
  const alice = await loggedIn(t, app, 'alice')
  const cases: Array<[string, string, unknown, number]> = [
    ['GET', '/auth/admin/users?limit=5', undefined, 200],
    ['GET', '/auth/admin/users?limit=five', undefined, 400],
    ['GET', '/auth/admin/users?limit=5&sort=name', undefined, 400],
    ['POST', '/auth/admin/users', { username: 'bob', password: 'a long passphrase', roles: [], admin: true }, 400],
    ['POST', '/auth/admin/users', { username: 'bob', password: 123456789012 }, 400],
    ['POST', '/auth/password', { currentPassword: 'x', newPassword: 'another passphrase', logoutOthers: false }, 400]
  ]
  for (const [method, url, body, status] of cases) {
    const response = await alice.request(method, url, body)
    t.equal(response.statusCode, status, `${method} ${url} ${JSON.stringify(body)}`)
    if (status === 400) t.equal(response.json().code, 'ERR_VALIDATION')
  }
  t.equal((await app.inject({ method: 'GET', url: '/auth/admin/users' })).statusCode, 401)
})
