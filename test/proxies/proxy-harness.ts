/**
 * Real reverse proxies in front of a real upstream, with the session service doing forward-auth: the service
 * (listening on a loopback port), the upstream of docs/examples/upstreams/upstream-server.mjs (verifies the
 * assertion with jose against the service's JWKS), and nginx or Caddy run from docs/examples/proxies with
 * their ports filled in. Requests go through the real curl with a cookie jar.
 *
 * A missing nginx or caddy binary fails the test with the command that installs it: never a silent skip.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { addUser, buildTestApp, TEST_PASSWORD, tempDir } from '../helper.js'

const ROOT = join(import.meta.dirname, '..', '..')
export const EXAMPLES = join(ROOT, 'docs', 'examples')

/** Fails with a clear message when `binary` is not installed. */
export function requireBinary (binary: 'nginx' | 'caddy'): void {
  const probe = spawnSync(binary, [binary === 'nginx' ? '-v' : 'version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`${binary} is not installed, so the ${binary} forward-auth tests cannot run: install it with \`apt-get install -y ${binary}\` (Debian; .ci/run does this before npm test)`)
  }
}

export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitForPort (port: number, what: string, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => { resolve(false) })
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms:\n${output()}`)
    await sleep(25)
  }
}

function startProcess (t: Test, command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess, output: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  return { child, output: () => output }
}

export interface Ports { proxy: number, auth: number, upstream: number }

/** A config of docs/examples/proxies with its ports filled in. */
export function filledIn (file: string, ports: Ports): string {
  return readFileSync(join(EXAMPLES, 'proxies', file), 'utf8')
    .replaceAll('{{PROXY_PORT}}', String(ports.proxy))
    .replaceAll('{{AUTH_PORT}}', String(ports.auth))
    .replaceAll('{{UPSTREAM_PORT}}', String(ports.upstream))
}

export interface Stack {
  ports: Ports
  /** http://localhost:<proxy port>: curl sends __Host- cookies to localhost over http. */
  origin: string
  service: FastifyInstance
}

/** The session service and the upstream; the proxy is the caller's. */
export async function startServiceAndUpstream (t: Test, env: Record<string, string> = {}): Promise<Stack> {
  const ports: Ports = { proxy: await freePort(), auth: 0, upstream: await freePort() }
  const origin = `http://localhost:${ports.proxy}`
  const service = await buildTestApp(t, {
    env: {
      TRUST_PROXY: '127.0.0.1',
      PUBLIC_ORIGIN: origin,
      LOGIN_URL: '/login',
      REDIRECT_HOSTS: `localhost:${ports.proxy}`,
      ...env
    }
  })
  await addUser(service, 'alice', TEST_PASSWORD, ['ops'])
  await addUser(service, 'root', TEST_PASSWORD, ['admin'])
  await service.listen({ port: 0, host: '127.0.0.1' })
  ports.auth = (service.server.address() as AddressInfo).port

  const upstream = startProcess(t, process.execPath, [join(EXAMPLES, 'upstreams', 'upstream-server.mjs')], {
    PORT: String(ports.upstream),
    JWKS_URL: `http://127.0.0.1:${ports.auth}/.well-known/jwks.json`,
    ISSUER: origin,
    AUDIENCE: `localhost:${ports.proxy}`
  })
  await waitForPort(ports.upstream, 'the upstream', upstream.output)
  return { ports, origin, service }
}

export async function startNginx (t: Test, ports: Ports): Promise<void> {
  requireBinary('nginx')
  const dir = tempDir(t, 'nginx-')
  mkdirSync(join(dir, 'tmp'))
  writeFileSync(join(dir, 'nginx.conf'), filledIn('nginx.conf', ports))
  const nginx = startProcess(t, 'nginx', ['-p', dir, '-c', 'nginx.conf'])
  await waitForPort(ports.proxy, 'nginx', nginx.output)
}

export async function startCaddy (t: Test, ports: Ports): Promise<void> {
  requireBinary('caddy')
  const dir = tempDir(t, 'caddy-')
  writeFileSync(join(dir, 'Caddyfile'), filledIn('Caddyfile', ports))
  const caddy = startProcess(t, 'caddy', ['run', '--adapter', 'caddyfile', '--config', join(dir, 'Caddyfile')], {
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config')
  })
  await waitForPort(ports.proxy, 'caddy', caddy.output)
}

export interface CurlResult {
  status: number
  headers: Record<string, string>
  body: string
}

/** Runs the real curl; `jar` is a cookie-jar file read and written (-b, -c). */
export async function curl (t: Test, url: string, options: { method?: string, jar?: string, cookie?: string, headers?: string[], data?: string } = {}): Promise<CurlResult> {
  const dir = tempDir(t, 'curl-')
  const headerFile = join(dir, 'headers')
  const bodyFile = join(dir, 'body')
  const args = ['-sS', '-o', bodyFile, '-D', headerFile, '-X', options.method ?? 'GET', url]
  if (options.jar !== undefined) args.push('-b', options.jar, '-c', options.jar)
  if (options.cookie !== undefined) args.push('-b', options.cookie)
  for (const header of options.headers ?? []) args.push('-H', header)
  if (options.data !== undefined) args.push('-H', 'content-type: application/json', '--data', options.data)
  await new Promise<void>((resolve, reject) => {
    execFile('curl', args, (error, _stdout, stderr) => { if (error === null) resolve(); else reject(new Error(`curl failed: ${stderr}`)) })
  })
  const raw = readFileSync(headerFile, 'utf8').split('\r\n')
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(raw[0] ?? '')?.[1])
  const headers: Record<string, string> = {}
  for (const line of raw.slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status, headers, body: readFileSync(bodyFile, 'utf8') }
}

/** A copy of a cookie jar file, as it is now. */
export function copyJar (t: Test, jar: string): string {
  const copy = join(tempDir(t, 'jar-'), 'jar')
  copyFileSync(jar, copy)
  return copy
}

/**
 * What every proxy must do, checked end to end through it: refused without a session (and a login redirect
 * for a browser navigation), allowed with one (identity from the verified assertion, the client's spoofed
 * identity headers gone, the access cookie not passed on), role-refused, and revoked at once after logout.
 */
export async function checkProxy (t: Test, stack: Stack): Promise<void> {
  const { origin } = stack
  const spoofed = ['X-Auth-Request-User: mallory', 'X-Auth-Request-Email: mallory@evil.example', 'X-Auth-Request-Groups: admin', 'Remote-User: mallory', 'X-Session-Assertion: forged']
  // The original request as the client would like the service to see it: the proxy must override these.
  const spoofedOriginal = ['X-Original-URL: https://evil.example/', 'X-Forwarded-Host: evil.example', 'X-Forwarded-Uri: /evil', 'X-Forwarded-Proto: https']

  const none = await curl(t, `${origin}/hello`)
  t.equal(none.status, 401, 'no session: 401')
  t.equal((await curl(t, `${origin}/hello`, { headers: spoofed })).status, 401, 'no session, spoofed identity headers: still 401, the app is never reached')
  const navigation = await curl(t, `${origin}/hello?x=1`, { headers: ['Accept: text/html,application/xhtml+xml', ...spoofedOriginal] })
  t.equal(navigation.status, 302, 'a browser navigation without a session: redirected')
  // nginx makes the Location absolute (absolute_redirect), Caddy passes ours on: the same place.
  t.equal(new URL(navigation.headers['location'] ?? '', origin).href, `${origin}/login?rd=${encodeURIComponent(`${origin}/hello?x=1`)}`, 'to the login page, with the original URL')
  const xhr = await curl(t, `${origin}/hello`, { headers: ['Accept: text/html', 'X-Requested-With: XMLHttpRequest'] })
  t.equal(xhr.status, 401, 'XHR: 401, no redirect')

  const jar = join(tempDir(t, 'jar-'), 'jar')
  const login = await curl(t, `${origin}/auth/login`, { method: 'POST', jar, data: JSON.stringify({ username: 'alice', password: TEST_PASSWORD }) })
  t.equal(login.status, 200, 'log in through the proxy')

  const allowed = await curl(t, `${origin}/hello?x=1`, { jar, cookie: 'theme=dark', headers: [...spoofed, ...spoofedOriginal] })
  t.equal(allowed.status, 200, 'with a session: the app answers', { body: allowed.body })
  const seen = JSON.parse(allowed.body) as { identity: { username: string, roles: string[] }, headers: Record<string, string | null>, url: string }
  t.match(seen.identity, { username: 'alice', roles: ['ops'] }, 'the app verified the assertion against the JWKS: alice (audience its own host, whatever the client claimed)')
  t.equal(seen.url, '/hello?x=1')
  t.equal(seen.headers['user'], 'alice', 'X-Auth-Request-User is ours, not the client\'s')
  t.equal(seen.headers['remoteUser'], 'alice', 'Remote-User too')
  t.equal(seen.headers['groups'], 'ops', 'X-Auth-Request-Groups too')
  t.not(seen.headers['email'], 'mallory@evil.example', 'the spoofed e-mail header is gone')
  t.notMatch(seen.headers['cookie'] ?? '', /__Host-session/, 'the access cookie is not passed to the app', { seen: seen.headers['cookie'] })
  t.match(seen.headers['cookie'], /(^|; )theme=dark(;|$)/, 'the app\'s own cookies are')

  const session = await curl(t, `${origin}/auth/session`, { jar })
  t.equal(session.status, 200, 'the auth routes get the cookies unchanged')

  t.equal((await curl(t, `${origin}/admin/panel`, { jar })).status, 403, 'the admin location refuses alice: 403')
  const rootJar = join(tempDir(t, 'jar-'), 'jar')
  await curl(t, `${origin}/auth/login`, { method: 'POST', jar: rootJar, data: JSON.stringify({ username: 'root', password: TEST_PASSWORD }) })
  const admin = await curl(t, `${origin}/admin/panel`, { jar: rootJar })
  t.equal(admin.status, 200, 'and admits an admin')
  t.match(JSON.parse(admin.body), { identity: { username: 'root', roles: ['admin'] } })

  const kept = copyJar(t, jar)
  t.equal((await curl(t, `${origin}/auth/logout`, { method: 'POST', jar })).status, 204, 'log out through the proxy')
  t.equal((await curl(t, `${origin}/hello`, { jar: kept })).status, 401, 'the access cookie kept from before the logout is refused at once')
  t.equal((await curl(t, `${origin}/hello`, { jar: rootJar })).status, 200, 'another user\'s session is untouched')
}

/** Logs `username` in through the proxy; the cookie jar holding its session. */
async function logIn (t: Test, origin: string, username: string): Promise<string> {
  const jar = join(tempDir(t, 'jar-'), 'jar')
  const login = await curl(t, `${origin}/auth/login`, { method: 'POST', jar, data: JSON.stringify({ username, password: TEST_PASSWORD }) })
  t.equal(login.status, 200, `${username} logs in through the proxy`)
  return jar
}

/** The value of cookie `name` in a curl cookie jar (Netscape format; HttpOnly lines start with #HttpOnly_). */
function jarCookie (jar: string, name: string): string {
  for (const line of readFileSync(jar, 'utf8').split('\n')) {
    const fields = line.replace(/^#HttpOnly_/, '').split('\t')
    if (fields.length === 7 && fields[5] === name) return fields[6] ?? ''
  }
  throw new Error(`no ${name} cookie in the jar`)
}

interface Seen { identity: { username: string, roles: string[] }, headers: Record<string, string | null>, received: string[], url: string }

/** Whether something accepts TCP connections on address:port. */
async function accepts (address: string, port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = connect({ host: address, port, timeout: 2000 })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => { resolve(false) })
  })
}

/**
 * What an outside review of the example configurations found (docs/proxies.md: "Role locations", "The
 * check endpoints are the proxy's alone", "Stripping what the client sends", "The login page"); each subtest
 * failed on the configurations (or, for //, the service) before the fixes.
 */
export async function checkHardening (t: Test, stack: Stack): Promise<void> {
  const { origin, ports } = stack
  const alice = await logIn(t, origin, 'alice')
  const root = await logIn(t, origin, 'root')

  await t.test('the admin location also covers the paths an upstream may route to its admin pages', async (t) => {
    // Express matches a mount case-insensitively and without its trailing slash; Java servlet containers
    // drop `;...` path parameters; Rails reads `.json` as a format.
    for (const path of ['/ADMIN/secret', '/Admin/panel', '/admin', '/admin/', '/admin;x', '/admin;x/secret', '/admin.json', '/%61dmin/panel']) {
      const response = await curl(t, `${origin}${path}`, { jar: alice })
      t.equal(response.status, 403, `${path}: the admin check refuses alice`, { body: response.body })
    }
    const admin = await curl(t, `${origin}/ADMIN/secret`, { jar: root })
    t.equal(admin.status, 200, 'and admits an admin')
    t.match(JSON.parse(admin.body), { identity: { username: 'root' }, url: '/ADMIN/secret' })
    t.equal((await curl(t, `${origin}/administrators`, { jar: alice })).status, 200, 'a path that only begins with the same letters is another location')
  })

  await t.test('the access cookie never reaches the upstream, look-alike names before it or not', async (t) => {
    const token = jarCookie(alice, '__Host-session')
    const cases: Array<[string, string]> = [
      [`a__Host-session=1; __Host-session=${token}; theme=dark`, 'a__Host-session=1; theme=dark'],
      [`x__Host-session=1; __Host-session=${token}`, 'x__Host-session=1'],
      [`__Host-session=${token}; theme=dark`, 'theme=dark'],
      [`theme=dark; __Host-session=${token}`, 'theme=dark'],
      [`theme=dark;__Host-session=${token};b__Host-session=2`, 'theme=dark;b__Host-session=2']
    ]
    for (const [cookie, expected] of cases) {
      const response = await curl(t, `${origin}/hello`, { headers: [`Cookie: ${cookie}`] })
      t.equal(response.status, 200, `${expected}: the session is found`, { body: response.body })
      const seen = JSON.parse(response.body) as Seen
      t.notOk((seen.headers['cookie'] ?? '').includes(token), 'the upstream does not get the token', { seen: seen.headers['cookie'] })
      t.equal(seen.headers['cookie'], expected, 'and gets every other cookie, without a stray separator')
    }
  })

  await t.test('the check endpoints are not public: no assertion for an audience the client chose', async (t) => {
    const requests: Array<[string, string[]]> = [
      ['/auth/verify', ['X-Original-URL: https://billing.internal/', 'X-Original-Method: GET']],
      ['/auth/verify', ['X-Forwarded-Proto: https', 'X-Forwarded-Host: billing.internal', 'X-Forwarded-Uri: /', 'X-Forwarded-Method: GET']],
      ['/auth/verify?role=ops', []],
      ['/auth/verify/', []],
      ['/auth/envoy/hello', []],
      ['/auth/envoy/', []]
    ]
    for (const [path, headers] of requests) {
      const response = await curl(t, `${origin}${path}`, { jar: alice, headers })
      t.equal(response.status, 404, `${path} ${headers.join(', ')}: 404`)
      t.equal(response.headers['x-session-assertion'], undefined, 'no assertion')
      t.equal(response.headers['x-auth-request-user'], undefined, 'no identity header')
    }
    // A path the proxy reads as /auth/session (it decodes %2F) while the service's router finds
    // /auth/envoy/*: whatever the answer, it carries no assertion and no identity.
    const traversal = await curl(t, `${origin}/auth/envoy/x%2F..%2F..%2Fsession`, { jar: alice, headers: ['X-Forwarded-Proto: https'] })
    t.equal(traversal.headers['x-session-assertion'], undefined, 'an encoded traversal to the Envoy endpoint: no assertion')
    t.equal(traversal.headers['x-auth-request-user'], undefined, 'and no identity header')
    t.equal((await curl(t, `${origin}/hello`, { jar: alice })).status, 200, 'the proxy\'s own check still works')
    t.equal((await curl(t, `${origin}/auth/session`, { jar: alice })).status, 200, 'and so do the other auth routes')
  })

  await t.test('identity headers spelt with underscores never reach the upstream', async (t) => {
    // CGI, WSGI, PHP and many servers read `_` as `-` and join the values: HTTP_X_AUTH_REQUEST_GROUPS=",admin".
    const lookalikes = ['X-Auth-Request_Groups: admin', 'X_Auth_Request_User: mallory', 'X-Auth_Request-Email: mallory@evil.example', 'Remote_Groups: admin', 'Remote_User: mallory', 'Remote_Name: mallory', 'X-Session_Assertion: forged', 'X_Session_Assertion: forged']
    const response = await curl(t, `${origin}/hello`, { jar: alice, headers: lookalikes })
    t.equal(response.status, 200, 'the request itself is served', { body: response.body })
    const seen = JSON.parse(response.body) as Seen
    t.same(seen.received.filter((name) => name.includes('_')), [], 'no header name with an underscore arrives', { received: seen.received })
    t.equal(seen.headers['groups'], 'ops', 'X-Auth-Request-Groups is ours')
  })

  await t.test('the login page is served without a check: no redirect loop', async (t) => {
    const navigation = await curl(t, `${origin}/hello`, { headers: ['Accept: text/html'] })
    t.equal(navigation.status, 302, 'a navigation without a session goes to the login page')
    const login = new URL(navigation.headers['location'] ?? '', origin)
    t.equal(login.pathname, '/login')
    const page = await curl(t, login.href, { headers: ['Accept: text/html', 'X-Auth-Request-User: mallory', 'X-Session-Assertion: forged'] })
    t.equal(page.status, 200, 'which the app serves, instead of another redirect to itself', { location: page.headers['location'] })
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, /<form id="login">/)
    t.equal((await curl(t, `${origin}/login/admin`, { headers: ['Accept: text/html'] })).status, 302, 'only the login page itself: /login/admin is checked')
  })

  await t.test('the proxy listens on the loopback address only', async (t) => {
    t.ok(await accepts('127.0.0.1', ports.proxy), 'on 127.0.0.1')
    t.notOk(await accepts('127.0.0.2', ports.proxy), 'not on another address (127.0.0.2 stands for the machine\'s others)')
  })

  await t.test('a path starting with // is a path: checked and passed on, never a host', async (t) => {
    const allowed = await curl(t, `${origin}//x`, { jar: alice })
    t.equal(allowed.status, 200, '//x with a session: the app answers', { body: allowed.body })
    t.equal((JSON.parse(allowed.body) as Seen).url, '//x')
    t.equal((await curl(t, `${origin}//x`)).status, 401, 'without one: 401')
    t.equal((await curl(t, `${origin}//admin/panel`, { jar: alice })).status, 403, '//admin/panel: the admin location\'s check refuses alice')
    const navigation = await curl(t, `${origin}//evil.example/a`, { headers: ['Accept: text/html'] })
    t.equal(navigation.status, 302, 'a navigation to //evil.example/a without a session: to the login page')
    const location = new URL(navigation.headers['location'] ?? '', origin)
    t.equal(location.origin, origin, 'on this site')
    t.equal(location.pathname, '/login')
    const rd = new URL(location.searchParams.get('rd') ?? '')
    t.equal(rd.host, new URL(origin).host, 'rd stays on this host: //evil.example is its path')
    t.equal(rd.pathname, '//evil.example/a')
  })
}
