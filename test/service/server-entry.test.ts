/**
 * The server entry run from the sources, as tap runs the tests (so c8 measures it): a wrong setting, and a
 * WORKERS value it cannot use, stop it with one line on stderr and exit 1, before anything is loaded or
 * forked. config-errors.test.ts checks every variable's line against the built entry (dist/, not measured).
 */
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { test } from 'tap'
import { tempDir, testEnv } from '../helper.js'

const SERVER = resolve('src/service/server.ts')
// This process's loader and coverage hooks, the loader named by its path so another working directory works,
// with this project's tsconfig.json (found from the working directory otherwise): compiled as in the other
// processes, so c8 merges their coverage of each file.
const NODE_ARGS = process.execArgv.map((arg) => arg === '--import=tsx' ? `--import=${import.meta.resolve('tsx')}` : arg)
const TSCONFIG = resolve('tsconfig.json')

function start (env: Record<string, string>, cwd = process.cwd()): { status: number | null, stdout: string, stderr: string } {
  const run = spawnSync(process.execPath, [...NODE_ARGS, SERVER], {
    cwd,
    env: { ...process.env, TSX_TSCONFIG_PATH: TSCONFIG, ...testEnv({ PORT: '0', ...env }) },
    encoding: 'utf8',
    timeout: 60_000
  })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

test('wrong settings: one line each on stderr, exit 1, no stack trace', async (t) => {
  const run = start({ PORT: 'eighty', LOG_LEVEL: 'loud', DATA_DIR: tempDir(t) })
  t.equal(run.status, 1)
  t.equal(run.stderr, 'error: PORT must be an integer from 0 to 65535 (got "eighty")\nerror: LOG_LEVEL must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent" (got "loud")\n')
  t.equal(run.stdout, '', 'nothing logged: the logger is built from the settings it refused')
})

test('a WORKERS value it cannot use: its line, exit 1, no worker forked', async (t) => {
  const run = start({ WORKERS: '257', STORE: 'sqlite', DATA_DIR: tempDir(t) })
  t.equal(run.status, 1)
  t.equal(run.stderr, 'error: WORKERS must be "auto" or a whole number from 1 to 256 (got "257")\n')
  t.notMatch(run.stdout, 'starting')
})

test('a port in use once the app is built: its line naming PORT and HOST, exit 1', async (t) => {
  const busy = createServer()
  busy.listen(0, '127.0.0.1')
  await once(busy, 'listening')
  t.teardown(() => { busy.close() })
  const port = (busy.address() as AddressInfo).port
  const run = start({ HOST: '127.0.0.1', PORT: String(port), STORE: 'memory', LOG_LEVEL: 'silent' })
  t.equal(run.status, 1)
  t.equal(run.stderr, `error: PORT ${port} is already in use on 127.0.0.1: stop the other process or choose another PORT\n`)
})

test('a failure that is not a setting\'s keeps its stack trace', async (t) => {
  // .env is read from the working directory: a directory of that name cannot be read.
  const dir = tempDir(t)
  mkdirSync(resolve(dir, '.env'))
  const run = start({ DATA_DIR: resolve(dir, 'data') }, dir)
  t.not(run.status, 0)
  t.match(run.stderr, /EISDIR: illegal operation on a directory, read\n\s+at /, 'the error and where it came from')
  t.notMatch(run.stderr, /^error: /m, 'not dressed as a setting\'s one line')
})
