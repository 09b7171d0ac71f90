/**
 * Every bad setting stops the real server entry (`node dist/service/server.js`, as `npm start` runs it) with
 * one line on stderr naming the variable, what is wrong and what is allowed, exit code 1 and no stack trace.
 * The cases are generated from the env schema: a new variable gets a case from its type and range, or the
 * test asks for one in beyondSchema().
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import tap, { test } from 'tap'
import type { TSchema } from 'typebox'
import { expectation } from '../../src/http/plugin-options.js'
import { ENV_OPTIONS, envSchema } from '../../src/service/env-schema.js'
import { tempDir, TEST_SECRET } from '../helper.js'

// About fifty server processes: generous on a busy, shared machine.
tap.setTimeout(600_000)

const SERVER = resolve('dist/service/server.js')
const SENSITIVE = /SECRET|PASSWORD|REDIS_URL/

interface Case {
  /** The variable the case is about. */
  name: string
  env: Record<string, string>
  line: RegExp | string
}

interface Schema { type?: string, pattern?: string, minLength?: number, anyOf?: Array<{ const?: unknown }> }

/** A value the schema itself refuses, or undefined when any string passes it. */
function refusedBySchema (schema: Schema): string | undefined {
  if (schema.anyOf?.every((member) => 'const' in member) === true) return 'bogus'
  if (schema.type === 'integer') return 'abc'
  if (schema.type === 'boolean') return 'maybe'
  if (schema.type === 'string' && schema.pattern !== undefined) return 'not valid!'
  if (schema.type === 'string' && schema.minLength !== undefined) return ''
  return undefined
}

/** Values a schema lets through but the service refuses (rules beyond a single type or range). */
function beyondSchema (dir: string): Record<string, Array<Omit<Case, 'name'>>> {
  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  return {
    SESSION_SECRET: [{ env: { SESSION_SECRET: 'too-short' }, line: /^SESSION_SECRET is too short: at least 32 bytes/ }],
    SESSION_PREVIOUS_SECRETS: [{ env: { SESSION_PREVIOUS_SECRETS: 'prev-xyz' }, line: /^SESSION_PREVIOUS_SECRETS entry 1 is too short/ }],
    PUBLIC_ORIGIN: [{ env: { PUBLIC_ORIGIN: 'auth.example.com' }, line: /^PUBLIC_ORIGIN must be an origin/ }],
    TRUSTED_ORIGINS: [{ env: { TRUSTED_ORIGINS: 'https://app.example.com/' }, line: /^TRUSTED_ORIGINS entry 1 must be an origin/ }],
    TRUST_PROXY: [
      { env: { TRUST_PROXY: 'proxy.example.com' }, line: /^TRUST_PROXY must list IP addresses, CIDR ranges/ },
      { env: { TRUST_PROXY: '0.0.0.0/0' }, line: /^TRUST_PROXY entry "0.0.0.0\/0" trusts every address/ }
    ],
    DEMO_PASSWORD: [{ env: { DEMO: 'true', DEMO_PASSWORD: 'short' }, line: /^DEMO_PASSWORD is refused by the password policy: / }],
    DATA_DIR: [
      { env: { STORE: 'sqlite', DATA_DIR: file }, line: `DATA_DIR "${file}" cannot be used (it is a file, not a directory): it must be a directory this process can create files in, or a path where it can create one` },
      { env: { STORE: 'sqlite', DATA_DIR: join(file, 'data') }, line: /^DATA_DIR ".*" cannot be used \(part of the path is a file, not a directory\): / },
      { env: { SESSION_SECRET: '', DATA_DIR: file }, line: /^DATA_DIR ".*" cannot be used \(it is a file/ },
      // Root writes through directory modes, not into sysfs.
      { env: { STORE: 'sqlite', DATA_DIR: process.getuid?.() === 0 ? '/sys/kernel' : readOnlyDir(dir) }, line: /^DATA_DIR ".*" cannot be used \(permission denied\): / }
    ],
    HOST: [{ env: { HOST: 'no-such-host.invalid' }, line: 'HOST "no-such-host.invalid" is not an address of this machine: use localhost, 0.0.0.0, or one of its addresses' }],
    IDENTITY_HEADERS: [{ env: { IDENTITY_HEADERS: 'nope' }, line: /^IDENTITY_HEADERS must be a list of oauth2-proxy, authelia or Header-Name=field/ }],
    LOGIN_URL: [{ env: { LOGIN_URL: 'javascript:alert(1)' }, line: 'LOGIN_URL must be an http(s) URL without credentials or a path starting with one / (got "javascript:alert(1)")' }],
    REDIRECT_HOSTS: [{ env: { REDIRECT_HOSTS: 'http://x/' }, line: /^REDIRECT_HOSTS must be a list of lower-case hosts such as app.example.com/ }],
    TRACE_ACCESS_CHECK_RATIO: [{ env: { TRACE_ACCESS_CHECK_RATIO: '2' }, line: 'TRACE_ACCESS_CHECK_RATIO must be a number from 0 to 1 (got "2")' }],
    REDIS_SENTINELS: [
      { env: { STORE: 'redis', REDIS_SENTINELS: 'nohostport' }, line: /^REDIS_SENTINELS: "nohostport" is not host:port/ },
      // Nothing listens there: a deadline, then one line (not a silent wait for ever).
      { env: { STORE: 'redis', REDIS_SENTINELS: '127.0.0.1:1', REDIS_COMMAND_TIMEOUT_MS: '1000' }, line: /^Cannot connect to the session store at sentinel mymaster via 127\.0\.0\.1:1: nothing answered within 5 s \(check REDIS_SENTINELS and REDIS_SENTINEL_NAME\)$/ }
    ],
    REDIS_SENTINEL_PASSWORD: [{ env: { STORE: 'redis', REDIS_SENTINEL_PASSWORD: 'x' }, line: 'REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not: set REDIS_SENTINELS (host:port,...) or remove REDIS_SENTINEL_PASSWORD' }],
    REDIS_CLUSTER_NODES: [{ env: { STORE: 'redis', REDIS_CLUSTER_NODES: 'bad' }, line: /^REDIS_CLUSTER_NODES: "bad" is not host:port/ }],
    REDIS_URL: [{ env: { STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' }, line: /^Cannot connect to the session store at redis:\/\/127\.0\.0\.1:1: .* \(check REDIS_URL\)$/ }]
  }
}

/** A directory a process that is not root cannot create files in. */
function readOnlyDir (dir: string): string {
  const path = join(dir, 'read-only')
  mkdirSync(path, { mode: 0o500 })
  return path
}

/** Runs the server entry with exactly this environment; a server that starts is killed after 60 s. */
async function runServer (env: Record<string, string>, cwd: string): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [SERVER], { cwd, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  clearTimeout(timer)
  return { status, stdout, stderr }
}

async function inParallel<T> (items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await run(item)
  }))
}

test('each bad setting: one line naming the variable and what is allowed, exit code 1, no stack trace', async (t) => {
  t.ok(existsSync(SERVER), 'dist/ is built (npm test builds it first; else `npm run build`)')
  const dir = tempDir(t)
  const beyond = beyondSchema(dir)
  const cases: Case[] = []
  for (const [name, property] of Object.entries(envSchema.properties as Record<string, TSchema>)) {
    const refused = refusedBySchema(property as Schema)
    if (refused !== undefined) {
      const schema = property as Schema
      if (schema.pattern !== undefined) t.notOk(new RegExp(schema.pattern).test(refused), `${name}'s pattern refuses ${JSON.stringify(refused)}`)
      const got = SENSITIVE.test(name) ? '' : ` (got ${JSON.stringify(refused)})`
      cases.push({ name, env: { [name]: refused }, line: `${name} must be ${expectation(property, ENV_OPTIONS[name])}${got}` })
    }
    for (const extra of beyond[name] ?? []) cases.push({ name, ...extra })
    t.ok(cases.some((c) => c.name === name), `${name} has a bad-value case (from its schema, or add one to beyondSchema())`)
  }
  t.ok(cases.length > Object.keys(envSchema.properties).length, `${cases.length} cases`)

  // A port in use: PORT's run-time failure.
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { busy.close() })
  const busyPort = String((busy.address() as AddressInfo).port)
  cases.push({ name: 'PORT', env: { HOST: '127.0.0.1', PORT: busyPort }, line: `PORT ${busyPort} is already in use on 127.0.0.1: stop the other process or choose another PORT` })

  const base = { NODE_ENV: 'test', STORE: 'memory', SESSION_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', PORT: '0', DATA_DIR: join(dir, 'data') }
  await inParallel(cases, 4, async (c) => {
    const label = `${c.name}: ${JSON.stringify(c.env)}`
    const { status, stderr } = await runServer({ ...base, ...c.env }, dir)
    t.equal(status, 1, `${label} exits 1`)
    t.match(stderr, /^error: [^\n]+\n$/, `${label}: exactly one line on stderr`)
    t.notMatch(stderr, /\n\s+at /, `${label}: no stack trace`)
    const line = stderr.replace(/^error: /, '').replace(/\n$/, '')
    if (typeof c.line === 'string') t.equal(line, c.line, label)
    else t.match(line, c.line, label)
    if (SENSITIVE.test(c.name)) {
      for (const [variable, value] of Object.entries(c.env)) {
        if (SENSITIVE.test(variable) && value.length > 3 && !value.startsWith('redis://127.0.0.1')) t.notMatch(stderr, value, `${label}: the value of ${variable} is not repeated`)
      }
    }
  })
})

test('several bad settings: one line each', async (t) => {
  const dir = tempDir(t)
  const { status, stderr } = await runServer({ NODE_ENV: 'test', STORE: 'bogus', PORT: 'abc', LOG_LEVEL: 'loud', REDIS_URL: 'http://user:hunter2@redis.example.com' }, dir)
  t.equal(status, 1)
  t.equal(stderr, [
    'error: PORT must be an integer from 0 to 65535 (got "abc")',
    'error: LOG_LEVEL must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (got "loud")',
    'error: STORE must be one of "sqlite", "memory", "redis" (got "bogus")',
    'error: REDIS_URL must be a string matching ^rediss?://',
    ''
  ].join('\n'), 'in the schema\'s order; the Redis URL (it may hold a password) is not repeated')
})
