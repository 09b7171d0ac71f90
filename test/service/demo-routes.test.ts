/**
 * DEMO=true: the page, its stylesheet and the browser modules, their headers (CSP), the demo user, and the
 * refusals (production, no build). The compiled modules are stood in for by files in a temporary folder; the
 * real page runs in Chromium in test/e2e/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { DEFAULT_ASSETS_DIR } from '../../src/service/demo/demo-routes.js'
import { buildTestApp, client, tempDir } from '../helper.js'

/** A stand-in for the build output: the browser modules the demo serves, plus files it must not. */
function fakeBuild (t: Test): string {
  const dir = tempDir(t, 'demo-assets-')
  mkdirSync(join(dir, 'client'))
  mkdirSync(join(dir, 'service', 'demo', 'page'), { recursive: true })
  writeFileSync(join(dir, 'client', 'session-client.js'), 'export const client = 1\n')
  writeFileSync(join(dir, 'client', 'tab-lock.js'), 'export const lock = 1\n')
  writeFileSync(join(dir, 'client', 'session-client.d.ts'), 'export {}\n')
  writeFileSync(join(dir, 'client', 'session-client.js.map'), '{}\n')
  writeFileSync(join(dir, 'service', 'demo', 'page', 'demo-page.js'), 'import "../../../client/session-client.js"\n')
  writeFileSync(join(dir, 'service', 'demo', 'demo-routes.js'), 'server code\n')
  return dir
}

test('DEMO=true serves the page with a strict CSP, and the browser modules it loads', async (t) => {
  const app = await buildTestApp(t, { env: { DEMO: 'true', DEMO_PASSWORD: 'a chosen passphrase' }, demoAssetsDir: fakeBuild(t) })
  const page = await app.inject('/')
  t.equal(page.statusCode, 200)
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(page.headers['content-security-policy'],
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.equal(page.headers['referrer-policy'], 'no-referrer')
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.match(page.body, '<script type="module" src="/service/demo/page/demo-page.js"></script>')
  t.match(page.body, '<body data-auth-prefix="/auth" data-admin-role="admin">')
  t.match(page.body, 'Demo user: <code>demo</code>, password <code>a chosen passphrase</code>')
  t.notMatch(page.body, /<script>|<style>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler: the CSP would block them')

  const css = await app.inject('/demo/demo.css')
  t.equal(css.headers['content-type'], 'text/css; charset=utf-8')
  t.match(css.body, 'font-family')

  const modules: Array<[string, string]> = [
    ['/client/session-client.js', 'export const client = 1\n'],
    ['/client/tab-lock.js', 'export const lock = 1\n'],
    ['/service/demo/page/demo-page.js', 'import "../../../client/session-client.js"\n']
  ]
  for (const [path, body] of modules) {
    const response = await app.inject(path)
    t.equal(response.statusCode, 200, path)
    t.equal(response.headers['content-type'], 'text/javascript; charset=utf-8')
    t.equal(response.headers['x-content-type-options'], 'nosniff')
    t.equal(response.body, body)
  }
  for (const path of ['/client/session-client.d.ts', '/client/session-client.js.map', '/service/demo/demo-routes.js', '/client/../app.js', '/client/%2e%2e/app.js']) {
    t.equal((await app.inject(path)).statusCode, 404, `${path}: only browser modules are served`)
  }
})

test('the demo user can log in; the page says so only when the store is memory', async (t) => {
  const app = await buildTestApp(t, { env: { DEMO: 'true', DEMO_PASSWORD: 'a chosen passphrase' }, demoAssetsDir: fakeBuild(t) })
  const login = await client(app).request('POST', '/auth/login', { username: 'demo', password: 'a chosen passphrase' })
  t.equal(login.statusCode, 200)

  const sqlite = await buildTestApp(t, { env: { DEMO: 'true', STORE: 'sqlite', AUTH_PREFIX: '/api/auth' }, demoAssetsDir: fakeBuild(t) })
  const page = await sqlite.inject('/')
  t.match(page.body, 'npm run users -- add alice --password-stdin')
  t.match(page.body, 'data-auth-prefix="/api/auth"')
  t.same(await sqlite.users.list(), [], 'no user is created in a durable store')
})

test('DEMO is off by default', async (t) => {
  const app = await buildTestApp(t)
  t.equal((await app.inject('/')).statusCode, 404)
  t.equal((await app.inject('/client/session-client.js')).statusCode, 404)
  t.same(await app.users.list(), [])
})

test('DEMO=true is refused in production, and without the build', async (t) => {
  await t.rejects(buildTestApp(t, { env: { DEMO: 'true', NODE_ENV: 'production' }, demoAssetsDir: fakeBuild(t) }), {
    code: 'ERR_INVALID_OPTION',
    message: 'DEMO=true is refused when NODE_ENV=production: the demo page and its demo user are for development'
  })
  const empty = tempDir(t)
  await t.rejects(buildTestApp(t, { env: { DEMO: 'true' }, demoAssetsDir: empty }), {
    code: 'ERR_INVALID_OPTION',
    message: `DEMO=true serves the compiled browser code, which is not in ${empty}: run \`npm run build\` first`
  })
})

test('by default the modules come from the package\'s dist/: served when built, else a clear refusal', async (t) => {
  t.match(DEFAULT_ASSETS_DIR, /[/\\]dist[/\\]$/)
  t.notMatch(DEFAULT_ASSETS_DIR, /[/\\](src|dist)[/\\]dist/)
  // Whether `npm run build` ran before this test is not up to it: both outcomes are right, nothing else is.
  const built = existsSync(join(DEFAULT_ASSETS_DIR, 'client', 'session-client.js')) && existsSync(join(DEFAULT_ASSETS_DIR, 'service', 'demo', 'page', 'demo-page.js'))
  const outcome = await buildTestApp(t, { env: { DEMO: 'true' } }).then(
    async (app) => (await app.inject('/client/session-client.js')).body,
    (error: Error) => error.message
  )
  if (built) t.match(outcome, 'export function createSessionClient', 'the compiled client is served')
  else t.equal(outcome, `DEMO=true serves the compiled browser code, which is not in ${DEFAULT_ASSETS_DIR}: run \`npm run build\` first`)
})

test('without DEMO_PASSWORD the demo password is random at every start: there is no default password', async (t) => {
  const passwords = new Set<string>()
  for (let i = 0; i < 2; i++) {
    const app = await buildTestApp(t, { env: { DEMO: 'true' }, demoAssetsDir: fakeBuild(t) })
    const password = /password <code>([^<]+)<\/code>/.exec((await app.inject('/')).body)?.[1] ?? ''
    t.match(password, /^[A-Za-z0-9_-]{16}$/)
    t.equal((await client(app).request('POST', '/auth/login', { username: 'demo', password })).statusCode, 200, 'the password on the page works')
    passwords.add(password)
  }
  t.equal(passwords.size, 2, 'a different one each start')
})

test('a DEMO_PASSWORD the password policy refuses stops the boot, saying why', async (t) => {
  const refusals: Array<[string, string]> = [
    ['short', 'the password must have at least 8 characters'],
    ['my demo passphrase', 'the password must not contain the username']
  ]
  for (const [password, reason] of refusals) {
    await t.rejects(buildTestApp(t, { env: { DEMO: 'true', DEMO_PASSWORD: password }, demoAssetsDir: fakeBuild(t) }), { code: 'ERR_INVALID_OPTION', message: `DEMO_PASSWORD is refused by the password policy: ${reason}` }, password)
  }
})
