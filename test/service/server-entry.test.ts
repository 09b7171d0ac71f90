/**
 * The server entry run from the sources, as tap runs the tests (so c8 measures it): a wrong setting, and a
 * WORKERS value it cannot use, stop it with one line on stderr and exit 1, before anything is loaded or
 * forked. config-errors.test.ts checks every variable's line against the built entry (dist/, not measured).
 */
import { spawnSync } from 'node:child_process'
import { test } from 'tap'
import { tempDir, testEnv } from '../helper.js'

function start (env: Record<string, string>): { status: number | null, stdout: string, stderr: string } {
  const run = spawnSync(process.execPath, [...process.execArgv, 'src/service/server.ts'], {
    env: { ...process.env, ...testEnv({ PORT: '0', ...env }) },
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
