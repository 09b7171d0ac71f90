/**
 * `npm run bench:forward-auth`: what forward-auth costs (docs/benchmarks.md, "Forward-auth").
 *
 *   1. GET through nginx to an upstream, with forward-auth (docs/examples/proxies/nginx.conf, warm sessions)
 *      against the same nginx and upstream without it: goal at least 60%.
 *   2. GET /auth/verify on the service alone against a bare Fastify route: goal at least 75%.
 *
 * Servers run in their own processes; autocannon runs here. Rounds are interleaved and each ratio is taken
 * within a round (the machine's speed drifts between rounds), then the median is reported with its spread.
 * No figure is asserted.
 *
 *   options: --rounds N (default 3) --duration S (default 5) --connections N (default 50)
 */
import autocannon from 'autocannon'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { buildApp } from '../src/service/app.js'
import { filledIn, freePort, requireBinary } from '../test/proxies/proxy-harness.js'
import { median } from './shared.js'

const { values } = parseArgs({ options: { rounds: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' } }, strict: false, allowPositionals: true })
const ROUNDS = Number(values.rounds ?? 3)
const DURATION = Number(values.duration ?? 5)
const CONNECTIONS = Number(values.connections ?? 50)
const SESSIONS = 100
let work = ''
const children: ChildProcess[] = []
const log = (message: string): void => { process.stderr.write(`[bench:forward-auth] ${message}\n`) }

async function waitForPort (port: number): Promise<void> {
  for (let i = 0; i < 2400; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)
    if (ok) return
    await sleep(25)
  }
  throw new Error(`nothing listens on ${port}`)
}

function nginx (name: string, config: string): void {
  const dir = join(work, name)
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  writeFileSync(join(dir, 'nginx.conf'), config)
  children.push(spawn('nginx', ['-p', dir, '-c', 'nginx.conf'], { stdio: 'inherit' }))
}

/** The same nginx without forward-auth: the baseline. */
function plainNginx (proxy: number, upstream: number): string {
  return `daemon off; worker_processes 1; pid nginx.pid; error_log stderr warn; events { worker_connections 1024; }
http { access_log off; client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  upstream app { server 127.0.0.1:${upstream}; keepalive 16; }
  server { listen 127.0.0.1:${proxy}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $http_host; } } }`
}

async function requestsPerSecond (url: string, cookies: string[]): Promise<number> {
  let next = 0
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, cookie: cookies[next++ % cookies.length] as string } }) }]
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return result.requests.average
}

async function main (): Promise<void> {
  requireBinary('nginx')
  work = mkdtempSync(join(tmpdir(), 'bench-forward-auth-'))
  // The upstream: the same tiny answer for both nginx configurations (what is measured is the check).
  const upstream = createServer((_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }); response.end('{"ok":true}') })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  const upstreamPort = (upstream.address() as AddressInfo).port

  // The service and the bare route each get a process of their own: here they would share autocannon's loop.
  const servicePort = await freePort()
  const barePort = await freePort()
  children.push(spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'forward-auth.ts'), '--serve-service', String(servicePort)], { stdio: 'inherit' }))
  children.push(spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'forward-auth.ts'), '--serve-bare', String(barePort)], { stdio: 'inherit' }))
  await waitForPort(servicePort)
  await waitForPort(barePort)
  const cookies = await (await fetch(`http://127.0.0.1:${servicePort}/bench/cookies`)).json() as string[]

  const ports = { proxy: await freePort(), auth: servicePort, upstream: upstreamPort }
  const plainPort = await freePort()
  nginx('with', filledIn('nginx.conf', ports))
  nginx('without', plainNginx(plainPort, upstreamPort))
  await waitForPort(ports.proxy)
  await waitForPort(plainPort)
  const check = await fetch(`http://127.0.0.1:${ports.proxy}/x`, { headers: { cookie: cookies[0] as string } })
  if (check.status !== 200) throw new Error(`nginx with forward-auth answered ${check.status}`)

  const rows = { nginx: [] as number[], verify: [] as number[] }
  const raw: Array<Record<string, number>> = []
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round}/${ROUNDS}`)
    const plain = await requestsPerSecond(`http://127.0.0.1:${plainPort}/x`, cookies)
    const withAuth = await requestsPerSecond(`http://127.0.0.1:${ports.proxy}/x`, cookies)
    const bare = await requestsPerSecond(`http://127.0.0.1:${barePort}/me`, cookies)
    const verify = await requestsPerSecond(`http://127.0.0.1:${servicePort}/auth/verify`, cookies)
    rows.nginx.push(withAuth / plain)
    rows.verify.push(verify / bare)
    raw.push({ plain, withAuth, bare, verify })
  }
  const pct = (r: number): string => `${Math.round(r * 100)}%`
  const spread = (list: number[]): string => `${pct(Math.min(...list))}-${pct(Math.max(...list))}`
  const med = (key: string): number => median(raw.map((r) => r[key] as number))
  process.stdout.write([
    '| measurement | req/s (median) | ratio (median of rounds) | spread | goal |',
    '|---|---|---|---|---|',
    `| nginx → upstream, no forward-auth | ${Math.round(med('plain'))} | 100% | | |`,
    `| nginx → upstream, forward-auth (auth_request, ${SESSIONS} warm sessions) | ${Math.round(med('withAuth'))} | ${pct(median(rows.nginx))} | ${spread(rows.nginx)} | ≥ 60% |`,
    `| bare Fastify route | ${Math.round(med('bare'))} | 100% | | |`,
    `| GET /auth/verify alone | ${Math.round(med('verify'))} | ${pct(median(rows.verify))} | ${spread(rows.verify)} | ≥ 75% |`,
    '',
    `${ROUNDS} rounds, ${DURATION} s each, ${CONNECTIONS} connections, Node ${process.version}.`,
    ''
  ].join('\n'))
  upstream.close()
}

async function serveService (port: number): Promise<void> {
  const app = await buildApp({
    env: { NODE_ENV: 'test', STORE: 'memory', SESSION_SECRET: 'bench-forward-auth-secret-0123456789abcdef', DATA_DIR: tmpdir(), LOG_LEVEL: 'silent', TRUST_PROXY: '127.0.0.1' },
    passwordHashCost: { memoryCost: 1024, timeCost: 1, parallelism: 1 }
  })
  await app.users.add('bench', 'correct horse battery staple', ['ops'])
  const cookies: string[] = []
  for (let i = 0; i < SESSIONS; i++) {
    const result = await app.sessions.login('bench', 'correct horse battery staple', { userAgent: 'bench', address: null })
    if (result.status !== 'issued') throw new Error('login failed')
    cookies.push(`${app.sessionCookies.access.name}=${result.session.access.token}`)
  }
  app.get('/bench/cookies', async () => cookies)
  await app.listen({ host: '127.0.0.1', port })
}

async function serveBare (port: number): Promise<void> {
  const app = Fastify({ logger: false })
  app.get('/me', async () => ({ userId: 'anonymous' }))
  app.get('/', async () => ({}))
  await app.listen({ host: '127.0.0.1', port })
}

const mode = process.argv[2]
if (mode === '--serve-service') {
  await serveService(Number(process.argv[3]))
} else if (mode === '--serve-bare') {
  await serveBare(Number(process.argv[3]))
} else {
  try {
    await main()
  } finally {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }))
    if (work !== '') rmSync(work, { recursive: true, force: true })
  }
}
