/**
 * better-sqlite3 installed without its native module (`npm install --ignore-scripts`, or a build that failed):
 * the service (`npm start`, `fastify-stateless-session start`) with the SQLite store, the default, and the
 * users and backup CLIs each stop with one line saying what to do and exit 1, not better-sqlite3's dozens of
 * lines of tried paths and stack. The processes run from the sources with module hooks
 * (fixtures/processes/sqlite-unbuilt-hooks.mjs) that give them a copy of better-sqlite3 without build/, so the
 * package's own loader fails as it does for a user.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { test, type Test } from 'tap'
import { tempDir, testEnv } from '../helper.js'

const LINE = 'error: better-sqlite3\'s native module is not built (installed with --ignore-scripts?): run "npm rebuild better-sqlite3"'

/** <dir>/node_modules/better-sqlite3 as --ignore-scripts leaves it: its JavaScript, no build/ folder. */
function unbuiltCopy (dir: string): void {
  const real = resolve('node_modules/better-sqlite3')
  const copy = join(dir, 'node_modules', 'better-sqlite3')
  mkdirSync(copy, { recursive: true })
  cpSync(join(real, 'package.json'), join(copy, 'package.json'))
  cpSync(join(real, 'lib'), join(copy, 'lib'), { recursive: true })
  // Its dependency, as installed beside it (the lookup that fails is this package's).
  symlinkSync(resolve('node_modules/bindings'), join(dir, 'node_modules', 'bindings'))
}

function run (t: Test, args: string[], env: Record<string, string>): { status: number | null, stderr: string, stdout: string } {
  const dir = tempDir(t, 'sqlite-unbuilt-')
  unbuiltCopy(dir)
  const hooks = pathToFileURL(resolve('test/fixtures/processes/sqlite-unbuilt-hooks.mjs')).href
  const register = `import { register } from 'node:module'; register(${JSON.stringify(hooks)}, { data: ${JSON.stringify(dir)} })`
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  // STORE unset: the default, sqlite.
  if (env['STORE'] === undefined) delete childEnv['STORE']
  const child = spawnSync(process.execPath, [...process.execArgv, `--import=data:text/javascript,${encodeURIComponent(register)}`, ...args], { env: childEnv, encoding: 'utf8', timeout: 60_000 })
  return { status: child.status, stderr: child.stderr, stdout: child.stdout }
}

function env (t: Test, overrides: Record<string, string> = {}): Record<string, string> {
  const { STORE: _store, ...rest } = testEnv({ DATA_DIR: tempDir(t), PORT: '0', ...overrides })
  return rest
}

test('the hooks reproduce the failure: better-sqlite3\'s own error, many lines', async (t) => {
  const probe = run(t, ['--input-type=module', '-e', 'const { default: Database } = await import("better-sqlite3"); new Database(":memory:")'], env(t))
  t.not(probe.status, 0)
  t.match(probe.stderr, 'Could not locate the bindings file. Tried:', 'the error of bindings, the loader better-sqlite3 uses')
  t.ok(probe.stderr.split('\n').length > 10, `${probe.stderr.split('\n').length} lines`)
})

for (const [name, args] of [['npm start (server.ts)', ['src/service/server.ts']], ['fastify-stateless-session start', ['src/service/cli/bin.ts', 'start']]] as Array<[string, string[]]>) {
  test(`${name}: one line, exit 1`, async (t) => {
    const service = run(t, args, env(t))
    t.equal(service.stderr, `${LINE}, or set STORE=redis\n`, 'one line, the SQLite store\'s way out and the other store')
    t.equal(service.status, 1)
    t.equal(service.stdout, '', 'nothing listened, nothing logged')
  })
}

test('the users CLI: one line, exit 1', async (t) => {
  for (const args of [['src/service/cli/users-main.ts', 'list'], ['src/service/cli/bin.ts', 'users', 'list']]) {
    const cli = run(t, args, env(t, { STORE: 'sqlite' }))
    t.equal(cli.stderr, `${LINE}, or set STORE=redis\n`, args.join(' '))
    t.equal(cli.status, 1)
  }
})

test('the backup CLI: one line, exit 1, without STORE=redis (it backs up SQLite only)', async (t) => {
  const dataDir = tempDir(t)
  // An empty file is an empty SQLite database: the CLI gets as far as opening it.
  writeFileSync(join(dataDir, 'sessions.db'), '')
  const file = join(tempDir(t), 'backup.db')
  for (const args of [['src/service/cli/backup-main.ts', 'create', file], ['src/service/cli/backup-main.ts', 'verify', join(dataDir, 'sessions.db')], ['src/service/cli/bin.ts', 'backup', 'create', file]]) {
    const cli = run(t, args, env(t, { DATA_DIR: dataDir }))
    t.equal(cli.stderr, `${LINE}\n`, args.slice(1).join(' '))
    t.equal(cli.status, 1)
  }
})
