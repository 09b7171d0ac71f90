/**
 * End-to-end harness: the real service (built from src/, serving the compiled demo from dist/) listening on
 * localhost, and Debian's headless Chromium driven by playwright-core. `npm run test:e2e` builds first.
 * Screenshots go to artifacts/e2e/ (git-ignored).
 *
 * Functions given to page.evaluate() travel as source text. tap loads these files through tsx (esbuild with
 * keepNames), which wraps a named inner function (`const f = () => ...`) in a `__name()` helper the page
 * does not have: inside evaluate() bodies, use loops and anonymous callbacks only.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { Test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { DEFAULT_ASSETS_DIR } from '../../src/service/demo/demo-routes.js'
import { loggerOptions } from '../../src/service/logger.js'
import { FAST_HASH, tempDir, testEnv } from '../helper.js'

export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'artifacts', 'e2e')

/** The flags that work as root as root in a container (no sandbox, no background networking). Playwright adds a fresh profile. */
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']

export function chromiumPath (): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('Chromium is not installed: apt-get install -y chromium (Debian), then run npm run test:e2e again')
  }
}

/** One headless Chromium for a test file; each test opens its own context (its own cookie jar). */
export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_FLAGS })
  t.teardown(async () => { await browser.close() })
  return browser
}

export interface AuditLine { audit: string, [field: string]: unknown }

export interface RecordedResponse {
  method: string
  url: string
  origin: string | undefined
  status: number
  body: string
  allowOrigin: unknown
  allowCredentials: unknown
  setCookie: boolean
}

export interface Service {
  app: FastifyInstance
  origin: string
  /** Every log line of the run, parsed. */
  logs: Array<Record<string, unknown>>
  audits: (event: string) => AuditLine[]
  /** Moves the service's clock (not the browser's). */
  advance: (seconds: number) => void
  /** Responses sent, as seen by the server: for what a browser hides from the page (opaque, blocked). */
  responses: RecordedResponse[]
}

/** The standalone service with the demo on, in this process, on a free localhost port. */
export async function startService (t: Test, env: Record<string, string> = {}): Promise<Service> {
  let offsetMs = 0
  const logs: Array<Record<string, unknown>> = []
  const app = await buildApp({
    passwordHashCost: FAST_HASH,
    clock: () => Date.now() + offsetMs,
    logger: { ...loggerOptions('info'), stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } } },
    env: testEnv({ DEMO: 'true', DEMO_PASSWORD: 'e2e-passphrase', LOG_LEVEL: 'info', DATA_DIR: tempDir(t), ...env })
  })
  const responses: Service['responses'] = []
  app.addHook('onSend', async (request, reply, payload) => {
    responses.push({
      method: request.method,
      url: request.url,
      origin: request.headers.origin,
      status: reply.statusCode,
      body: typeof payload === 'string' ? payload : '',
      allowOrigin: reply.getHeader('access-control-allow-origin'),
      allowCredentials: reply.getHeader('access-control-allow-credentials'),
      setCookie: reply.getHeader('set-cookie') !== undefined
    })
    return payload
  })
  t.teardown(async () => await app.close())
  await app.listen({ host: 'localhost', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return {
    app,
    origin: `http://localhost:${port}`,
    logs,
    audits: (event) => logs.filter((line): line is AuditLine => line['audit'] === event),
    advance: (seconds) => { offsetMs += seconds * 1000 },
    responses
  }
}

/**
 * A plain web server on another localhost port: another origin (same site, as ports do not count for sites).
 * It serves `page` at `/` and, with `serveClient`, the compiled browser client under /client/.
 */
export async function startOtherOrigin (t: Test, page: () => string, serveClient = false): Promise<string> {
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/'
    if (serveClient && /^\/client\/[a-z-]+\.js$/.test(path)) {
      response.writeHead(200, { 'content-type': 'text/javascript' })
      response.end(readFileSync(join(DEFAULT_ASSETS_DIR, path)))
      return
    }
    response.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' })
    response.end(path === '/' ? page() : 'not found')
  })
  await new Promise<void>((resolve) => { server.listen(0, 'localhost', resolve) })
  t.teardown(async () => { await new Promise((resolve) => { server.close(resolve) }) })
  return `http://localhost:${(server.address() as AddressInfo).port}`
}

export interface Tab {
  page: Page
  /** Uncaught page errors and CSP violations: none are expected on the demo page. */
  problems: string[]
  /** Requests the page sent, as "METHOD path STATUS". */
  requests: string[]
  /** Every console message, as "type: text" (a failed request is an `error` here, "Failed to load resource"). */
  console: string[]
  /** The confirmations the page asked for, in order. */
  dialogs: string[]
  /** How they are answered (OK by default). */
  acceptDialogs: boolean
}

export async function openTab (context: BrowserContext, url: string): Promise<Tab> {
  const page = await context.newPage()
  const problems: string[] = []
  const requests: string[] = []
  const messages: string[] = []
  page.on('pageerror', (error) => { problems.push(`page error: ${error.message}`) })
  page.on('console', (message) => {
    messages.push(`${message.type()}: ${message.text()}`)
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`)
  })
  const tab: Tab = { page, problems, requests, console: messages, dialogs: [], acceptDialogs: true }
  page.on('dialog', (dialog) => {
    tab.dialogs.push(dialog.message())
    ;(tab.acceptDialogs ? dialog.accept() : dialog.dismiss()).catch(() => {})
  })
  page.on('response', (response) => {
    const request = response.request()
    requests.push(`${request.method()} ${new URL(request.url()).pathname} ${response.status()}`)
  })
  await page.goto(url)
  return tab
}

export async function loginThroughForm (tab: Tab, username = 'demo', password = 'e2e-passphrase'): Promise<void> {
  const { page } = tab
  await page.locator('#login-form').waitFor({ state: 'visible' })
  await page.fill('input[name=username]', username)
  await page.fill('input[name=password]', password)
  await page.click('#login-form button[type=submit]')
  await page.locator('#status').filter({ hasText: `Logged in as ${username}` }).waitFor()
}

export async function screenshot (t: Test, page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  t.comment(`screenshot: ${path}`)
}

/** What the demo page shows in an element. */
export async function text (page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? ''
}
