/**
 * `npm start` in development on a terminal prints readable logs and a banner (the URL to use, where the data
 * lives, how to add the first user); production and non-terminal output stay JSON lines.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test, type Test } from 'tap'
import { bannerText, serviceUrl, wantsTerminalOutput, type BannerFacts } from '../../src/service/terminal.js'
import { tempDir, TEST_SECRET } from '../helper.js'
import { waitFor } from '../helpers/wait-for.js'

const SERVER = resolve('dist/service/server.js')
const BIN = resolve('dist/service/cli/bin.js')
const CONFIG: BannerFacts['config'] = { STORE: 'sqlite', DATA_DIR: './data', REDIS_URL: 'redis://localhost:6379', REDIS_KEY_PREFIX: 'session:', DEMO: false, AUTH_PREFIX: '/auth' }

test('only development on a terminal gets the readable output', async (t) => {
  t.equal(wantsTerminalOutput({ NODE_ENV: 'development' }, { isTTY: true }), true)
  t.equal(wantsTerminalOutput({ NODE_ENV: 'development' }, {}), false, 'a pipe or a file: JSON')
  t.equal(wantsTerminalOutput({ NODE_ENV: 'production' }, { isTTY: true }), false)
  t.equal(wantsTerminalOutput({ NODE_ENV: 'test' }, { isTTY: true }), false)
})

test('the URL to use is localhost for a loopback or wildcard HOST', async (t) => {
  for (const host of ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::']) t.equal(serviceUrl(host, 3000), 'http://localhost:3000', host)
  t.equal(serviceUrl('auth.internal', 8080), 'http://auth.internal:8080')
  t.equal(serviceUrl('fd00::1', 8080), 'http://[fd00::1]:8080')
})

test('the banner: URL, data, and the command to add a user when there is none', async (t) => {
  const empty = bannerText({ url: 'http://localhost:3000', config: CONFIG, noUsers: true })
  t.match(empty, /^\n {2}Session service ready: http:\/\/localhost:3000\n/)
  t.match(empty, `  Data:  ${resolve('data/sessions.db')} (SQLite)\n`)
  t.match(empty, '  No users yet. Add one:  npm run users -- add <name>\n')
  t.ok(empty.split('\n').length <= 8, 'short')
  t.match(bannerText({ url: 'http://localhost:3000', config: CONFIG, noUsers: true, usersCommand: 'fastify-stateless-session users' }),
    '  No users yet. Add one:  fastify-stateless-session users add <name>\n', 'the command of the installed package when started by it')
  t.notMatch(bannerText({ url: 'http://localhost:3000', config: CONFIG, noUsers: false }), 'No users yet')
  t.match(bannerText({ url: 'http://localhost:3000', config: { ...CONFIG, STORE: 'memory' }, noUsers: true }), 'Data:  in memory: lost when the service stops')
  const redis = bannerText({ url: 'http://localhost:3000', config: { ...CONFIG, STORE: 'redis', REDIS_URL: 'redis://user:hunter2@redis.internal:6380/2' }, noUsers: false })
  t.match(redis, 'Data:  Redis at redis://redis.internal:6380/2, keys session:* (STORE=redis)')
  t.notMatch(redis, 'hunter2', 'no password from the URL')
  const demo = bannerText({ url: 'http://localhost:3000', config: { ...CONFIG, DEMO: true }, noUsers: false })
  t.match(demo, '  Demo:  http://localhost:3000/\n')
})

const hasScript = spawnSync('script', ['--version']).status === 0

/** The real server entry on a pseudo-terminal (script(1)); returns what the terminal showed once `until` holds. */
async function onTerminal (t: Test, env: Record<string, string>, until: (screen: string) => boolean, entry = SERVER): Promise<string> {
  const command = `${process.execPath} ${entry}`
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let screen = ''
  child.stdout.on('data', (chunk: Buffer) => { screen += chunk.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  await waitFor('the server on a terminal', async () => screen, until, 60_000)
  return screen
}

test('npm start in development on a terminal: readable logs and the banner', { skip: hasScript ? false : 'no script(1)' }, async (t) => {
  t.ok(existsSync(SERVER), 'dist/ is built')
  const dir = tempDir(t)
  const screen = await onTerminal(t, { NODE_ENV: 'development', DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' }, (s) => s.includes('No users yet'))
  t.notMatch(screen, '{"level"', 'no JSON lines')
  t.match(screen, /INFO.*Server listening at http:\/\/127\.0\.0\.1:\d+/)
  const port = /Session service ready: http:\/\/localhost:(\d+)\r?\n/.exec(screen)?.[1]
  t.ok(port !== undefined && Number(port) > 0, 'the URL to use, with the port it listens on')
  t.match(screen, `Data:  ${join(dir, 'sessions.db')} (SQLite)`)
  t.match(screen, 'No users yet. Add one:  npm run users -- add <name>')
})

test('the installed package\'s executable on a terminal names itself in the banner', { skip: hasScript ? false : 'no script(1)' }, async (t) => {
  t.ok(existsSync(BIN), 'dist/ is built')
  const screen = await onTerminal(t, { NODE_ENV: 'development', DATA_DIR: tempDir(t), PORT: '0', HOST: '127.0.0.1' }, (s) => s.includes('No users yet'), BIN)
  t.match(screen, 'No users yet. Add one:  fastify-stateless-session users add <name>')
  t.notMatch(screen, 'npm run users', 'no npm script: an installed package has none')
})

test('production on a terminal stays JSON, without a banner', { skip: hasScript ? false : 'no script(1)' }, async (t) => {
  const dir = tempDir(t)
  const screen = await onTerminal(t, { NODE_ENV: 'production', SESSION_SECRET: TEST_SECRET, DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1' }, (s) => s.includes('Server listening'))
  const lines = screen.split(/\r?\n/).filter((l) => l.trim() !== '')
  t.ok(lines.length > 0)
  for (const line of lines) t.doesNotThrow(() => JSON.parse(line), line)
  t.notMatch(screen, 'Session service ready')
})
