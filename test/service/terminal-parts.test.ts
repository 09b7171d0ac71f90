/**
 * The parts of the terminal output (src/service/terminal.ts) that terminal.test.ts sees only through the built
 * server on a pseudo-terminal, which c8 does not measure: the banner of a real listening app, and the readable
 * log stream, with pino-pretty installed, not installed (a production install) and failing to load.
 */
import { execFile } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { test } from 'tap'
import { bannerText, startupBanner } from '../../src/service/terminal.js'
import { addUser, buildTestApp } from '../helper.js'

const run = promisify(execFile)

test('the banner of a listening app: the port it got, and the hint to add a user until there is one', async (t) => {
  const app = await buildTestApp(t, { env: { HOST: '127.0.0.1', PORT: '0' } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const empty = await startupBanner(app, app.config)
  t.match(empty, `  Session service ready: http://localhost:${port}\n`, 'the URL to use, with the port the app listens on')
  t.match(empty, `  API:   http://localhost:${port}/auth/login, http://localhost:${port}/auth/session; reference at http://localhost:${port}/docs\n`)
  t.match(empty, 'Data:  in memory: lost when the service stops (STORE=memory)')
  t.match(empty, /No users yet\. Add one: .* add <name>\n/, 'an empty directory: how to add the first user')
  await addUser(app, 'alice')
  const after = await startupBanner(app, app.config)
  t.notMatch(after, 'No users yet', 'read from the directory at each call')
  t.match(after, `Session service ready: http://localhost:${port}\n`)
})

test('the Redis location in the banner: no trailing slash for database 0, the database otherwise', async (t) => {
  const config = { STORE: 'redis' as const, DATA_DIR: './data', REDIS_KEY_PREFIX: 'session:', DEMO: false, AUTH_PREFIX: '/auth' }
  const data = (url: string): string | undefined => /Data: {2}(.*)\n/.exec(bannerText({ url: 'http://localhost:3000', config: { ...config, REDIS_URL: url }, noUsers: false }))?.[1]
  t.equal(data('redis://cache.internal:6379/'), 'Redis at redis://cache.internal:6379, keys session:* (STORE=redis)')
  t.equal(data('redis://cache.internal:6379'), 'Redis at redis://cache.internal:6379, keys session:* (STORE=redis)')
  t.equal(data('rediss://:pw@cache.internal:6380/3'), 'Redis at rediss://cache.internal:6380/3, keys session:* (STORE=redis)')
})

/** Runs test/fixtures/processes/pretty-log.ts (through tsx, as this test runs) in one pino-pretty situation. */
async function prettyLog (mode: 'installed' | 'missing' | 'broken'): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...process.execArgv, 'test/fixtures/processes/pretty-log.ts', mode], { timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number, stdout: string, stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

test('with pino-pretty installed, log lines come out readable, not as JSON', async (t) => {
  const { code, stdout, stderr } = await prettyLog('installed')
  t.equal(code, 0, stderr)
  const plain = stdout.replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex
  t.match(plain, /^\[\d\d:\d\d:\d\d\] INFO: hello from the fixture\n {4}user: "alice"\n$/, 'time, level, message, then the fields')
  t.notMatch(plain, '{"level"')
  t.notMatch(plain, /pid|hostname/, 'pid and hostname left out')
})

test('without pino-pretty (npm ci --omit=dev) there is no stream: the service logs JSON', async (t) => {
  const { code, stdout, stderr } = await prettyLog('missing')
  t.equal(code, 0, stderr)
  t.equal(stdout, 'no pretty stream\n')
})

test('a pino-pretty that is installed but fails to load is not hidden: its error comes through', async (t) => {
  const { code, stdout, stderr } = await prettyLog('broken')
  t.not(code, 0)
  t.equal(stdout, '')
  t.match(stderr, 'Error: pino-pretty is broken')
})
