/** The standalone app's configuration: bad values stop the boot naming the variable; dev secret handling. */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { FAST_HASH, tempDir, testEnv } from '../helper.js'

test('a wrong environment variable stops the boot with a message naming it', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ACCESS_TTL_SECONDS: '5' }, /^ACCESS_TTL_SECONDS must be an integer from 10 to 86400 \(got "5"\)$/],
    [{ ACCESS_TTL_SECONDS: 'soon' }, /^ACCESS_TTL_SECONDS must be an integer from 10 to 86400 \(got "soon"\)$/],
    [{ STORE: 'postgres' }, /^STORE must be one of "sqlite", "memory", "redis" \(got "postgres"\)$/],
    [{ AUTH_PREFIX: 'auth' }, /^AUTH_PREFIX must be a path such as \/auth, without a trailing slash \(got "auth"\)$/],
    [{ PORT: '70000', STORE: 'x' }, /^PORT must be an integer from 0 to 65535 \(got "70000"\)\nSTORE must be one of/],
    [{ NODE_ENV: 'production', SESSION_SECRET: '' }, /SESSION_SECRET is required when NODE_ENV=production/],
    [{ NODE_ENV: 'production', SESSION_SECRET: 'changeme-changeme-changeme-changeme-changeme' }, /SESSION_SECRET looks weak/],
    [{ SESSION_SECRET: 'too-short' }, /SESSION_SECRET is too short: at least 32 bytes/],
    [{ SESSION_PREVIOUS_SECRETS: 'short,also-short' }, /SESSION_PREVIOUS_SECRETS entry 1 is too short/],
    [{ NODE_ENV: 'production', COOKIE_SECURE: 'false' }, /^COOKIE_SECURE cannot be false in production/],
    [{ ACCESS_TTL_SECONDS: '900', REFRESH_IDLE_TTL_SECONDS: '600' }, /^REFRESH_IDLE_TTL_SECONDS must be at least ACCESS_TTL_SECONDS \(900\)$/],
    [{ REFRESH_REUSE_GRACE_SECONDS: '20', ACCESS_TTL_SECONDS: '15' }, /^REFRESH_REUSE_GRACE_SECONDS must be shorter than ACCESS_TTL_SECONDS \(15\)$/],
    [{ TRUSTED_ORIGINS: 'https://ok.example.com,https://bad.example.com/' }, /^TRUSTED_ORIGINS entry 2 must be an origin/],
    [{ PUBLIC_ORIGIN: 'auth.example.com' }, /^PUBLIC_ORIGIN must be an origin/]
  ]
  for (const [env, message] of cases) {
    await t.rejects(buildApp({ env: testEnv({ DATA_DIR: tempDir(t), ...env }) }), { message }, JSON.stringify(env))
  }
})

test('outside production a missing secret is generated once (mode 0600), reused, and warned about', async (t) => {
  const dir = tempDir(t)
  const lines: string[] = []
  const logger = { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } }
  const env = testEnv({ DATA_DIR: dir, SESSION_SECRET: '', LOG_LEVEL: 'warn' })
  const first = await buildApp({ env, logger, passwordHashCost: FAST_HASH })
  await first.close()
  const file = join(dir, 'session-secret')
  t.ok(existsSync(file))
  t.equal(statSync(file).mode & 0o777, 0o600, 'only the owner can read it')
  const secret = readFileSync(file, 'utf8')
  t.match(secret, /^[A-Za-z0-9_-]{43}\n$/)
  const second = await buildApp({ env, logger, passwordHashCost: FAST_HASH })
  await second.close()
  t.equal(readFileSync(file, 'utf8'), secret, 'reused, so restarts keep sessions')
  t.equal(lines.filter((l) => l.includes('SESSION_SECRET is not set')).length, 2)
  t.notOk(lines.some((l) => l.includes(secret.trim())), 'the secret itself is never logged')

  writeFileSync(file, 'short\n')
  await t.rejects(buildApp({ env }), { message: /session-secret does not hold a usable secret/ })
})

test('a weak secret outside production is accepted with a warning', async (t) => {
  const lines: string[] = []
  const app = await buildApp({
    env: testEnv({ DATA_DIR: tempDir(t), SESSION_SECRET: 'changeme-changeme-changeme-changeme-changeme', LOG_LEVEL: 'warn' }),
    logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line).msg) } } },
    passwordHashCost: FAST_HASH
  })
  await app.close()
  t.same(lines.filter((l) => l.includes('weak')), ['the session secret looks weak (SESSION_SECRET, or the plugin\'s secret option); production would refuse it'])
})

test('unknown routes and other errors keep the error body shape', async (t) => {
  const app = await buildApp({ env: testEnv({ DATA_DIR: tempDir(t) }), passwordHashCost: FAST_HASH })
  t.teardown(async () => await app.close())
  app.get('/boom', async () => { throw new Error('secret internals') })
  app.get('/bad-request', async () => { throw Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }) })
  const missing = await app.inject({ url: '/nope?x=1' })
  t.same(missing.json(), { statusCode: 404, code: 'ERR_ROUTE_NOT_FOUND', error: 'Not Found', message: 'Route not found' })
  const boom = await app.inject({ url: '/boom' })
  t.same(boom.json(), { statusCode: 500, code: 'ERR_INTERNAL', error: 'Internal Server Error', message: 'Internal server error' }, 'no internals leak')
  t.equal((await app.inject({ url: '/bad-request' })).json().code, 'ERR_MALFORMED_JSON')
  const big = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'a', password: 'x'.repeat(9000) }) })
  t.same(big.json(), { statusCode: 413, code: 'ERR_BODY_TOO_LARGE', error: 'Payload Too Large', message: 'The request body is too large' })
  const long = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'a', password: 'x'.repeat(1025) }) })
  t.equal(long.statusCode, 400)
  t.equal(long.json().code, 'ERR_VALIDATION')
  const health = await app.inject({ url: '/healthz' })
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ url: '/readyz' })
  t.same(Object.keys(ready.json()), ['status', 'store', 'revocations'])
  t.match(ready.json(), { status: 'ready', store: 'ok', revocations: { mode: 'poll', confirmedMsAgo: Number, denylistSize: 0, logReloads: 0 } })
})
