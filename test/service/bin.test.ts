/**
 * The package's executable, `fastify-stateless-session` (src/service/cli/bin.ts): its help, version and
 * refusals, and each subcommand reaching what the npm scripts run, with the arguments that follow it.
 * Every case runs twice: from the build (dist/, what package.json's `bin` names and a user runs; `npm run
 * build` first) and from the sources through this process's loader (so c8 measures bin.ts).
 * test/package/consumer.test.ts runs it once more as installed, through node_modules/.bin.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { tempDir, TEST_PASSWORD, testEnv } from '../helper.js'
import { startServer } from './server-process.js'

const BUILT = 'dist/service/cli/bin.js'
const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string, bin: Record<string, string>, dependencies: Record<string, string>, peerDependencies: Record<string, string> }

const variants: Array<{ name: string, args: string[] }> = [
  { name: 'built', args: [BUILT] },
  { name: 'source', args: [...process.execArgv, 'src/service/cli/bin.ts'] }
]

interface Run { status: number | null, stdout: string, stderr: string }

function runBin (args: string[], env: Record<string, string> = testEnv(), input = ''): Run {
  const run = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, input, encoding: 'utf8', timeout: 120_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

test('package.json names the built executable, which starts with a shebang line', async (t) => {
  t.same(manifest.bin, { 'fastify-stateless-session': BUILT })
  t.ok(existsSync(BUILT), `${BUILT} exists (run \`npm run build\` first)`)
  t.equal(readFileSync(BUILT, 'utf8').split('\n')[0], '#!/usr/bin/env node')
})

for (const { name, args } of variants) {
  test(`${name}: help, version and refusals`, async (t) => {
    for (const help of [['--help'], ['-h'], ['help'], ['start', '--help'], ['start', '-h']]) {
      const run = runBin([...args, ...help])
      t.equal(run.status, 0, `${help.join(' ')} exits 0`)
      t.match(run.stdout, /^usage: fastify-stateless-session /, help.join(' '))
      for (const command of ['start', 'users', 'backup']) t.match(run.stdout, new RegExp(`\\n {2}${command} `), `${help.join(' ')} lists ${command}`)
      t.equal(run.stderr, '')
    }

    const shown = runBin([...args, '--version'])
    t.equal(shown.status, 0)
    t.equal(shown.stdout, `${manifest.version}\n`, 'the version of package.json')

    for (const [wrong, message] of [
      [['frobnicate'], 'error: unknown command "frobnicate"\n'],
      [['--port', '3000'], 'error: unknown command "--port"\n'],
      [['start', '--port', '3000'], 'error: start takes no arguments (its settings come from the environment and ./.env), got: --port 3000\n']
    ] as Array<[string[], string]>) {
      const run = runBin([...args, ...wrong])
      t.equal(run.status, 2, `${wrong.join(' ')} exits 2`)
      t.equal(run.stdout, '', 'nothing on stdout')
      t.ok(run.stderr.startsWith(`${message}usage: fastify-stateless-session `), 'the problem, then the usage, on stderr', { stderr: run.stderr })
      t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
    }
  })

  test(`${name}: users and backup get the arguments that follow them`, async (t) => {
    const dataDir = tempDir(t)
    const env = testEnv({ STORE: 'sqlite', DATA_DIR: dataDir })

    const help = runBin([...args, 'users', '--help'], env)
    t.equal(help.status, 0)
    t.match(help.stdout, /^usage: fastify-stateless-session users <command>\n/, 'the users CLI answers, naming the command that runs it')
    t.notMatch(help.stdout, 'npm run', 'no npm script: an installed package has none')

    const noPassword = runBin([...args, 'users', 'add', 'bob'], env)
    t.equal(noPassword.status, 2, 'no terminal and no --password-stdin: refused as given')
    t.match(noPassword.stderr, '| fastify-stateless-session users add bob --password-stdin', 'the hint names this command')

    const added = runBin([...args, 'users', 'add', 'alice', '--role', 'admin', '--password-stdin'], env, TEST_PASSWORD)
    t.equal(added.status, 0, 'added', { stderr: added.stderr })
    t.match(added.stdout, /^added alice \(id [A-Za-z0-9_-]{22}, roles admin\)\n$/)
    t.notMatch(added.stdout + added.stderr, TEST_PASSWORD, 'the password is never printed')
    t.match(runBin([...args, 'users', 'list'], env).stdout, /^alice\t[A-Za-z0-9_-]{22}\tenabled\tadmin\n$/)

    const refused = runBin([...args, 'users', 'frobnicate', 'x'], env)
    t.equal(refused.status, 2, 'the users CLI\'s own refusal, with the exit code of an unknown command')
    t.match(refused.stderr, /^error: unknown command "frobnicate"/)
    t.match(refused.stderr, '\nusage: fastify-stateless-session users <command>\n', 'the users CLI\'s usage')
    t.notMatch(refused.stderr, 'fastify-stateless-session [<command>]', 'not the dispatcher\'s usage')
    const bare = runBin([...args, 'users', 'bogus'], env)
    t.equal(bare.status, 2)
    t.match(bare.stderr, /^error: unknown command "bogus"\nusage: fastify-stateless-session users <command>\n/, 'named even without a user name after it')

    const backupHelp = runBin([...args, 'backup', '--help'], env)
    t.equal(backupHelp.status, 0)
    t.match(backupHelp.stdout, /^usage: fastify-stateless-session backup <command> <file>\n/, 'the backup CLI answers, naming the command that runs it')
    const file = join(tempDir(t), 'copy.db')
    const created = runBin([...args, 'backup', 'create', file], env)
    t.equal(created.status, 0, 'backup created', { stderr: created.stderr })
    t.match(created.stdout, /^backed up .*: 1 user, /)
    const verified = runBin([...args, 'backup', 'verify', file], env)
    t.equal(verified.status, 0)
    t.match(verified.stdout, `${file} is a whole backup: 1 user, `)
    const missing = runBin([...args, 'backup', 'verify'], env)
    t.equal(missing.status, 2, 'the backup CLI\'s own usage error, with the exit code of an unknown command')
    t.match(missing.stderr, /^error: verify needs a file\nusage: fastify-stateless-session backup /)
    const bogus = runBin([...args, 'backup', 'bogus'], env)
    t.equal(bogus.status, 2)
    t.match(bogus.stderr, /^error: unknown command "bogus"\nusage: fastify-stateless-session backup /)
  })

  for (const start of [['start'], []]) {
    test(`${name}: ${start.length === 0 ? 'no command' : 'start'} runs the service until stopped`, async (t) => {
      const server = await startServer(t, { STORE: 'sqlite', DATA_DIR: tempDir(t) }, [...args, ...start])
      const healthz = await fetch(`${server.url}/healthz`)
      t.equal(healthz.status, 200)
      t.same(await healthz.json(), { status: 'ok' })
      const readyz = await fetch(`${server.url}/readyz`)
      t.equal(readyz.status, 200, 'the store answers')
      t.equal(await server.stop(), 0, 'SIGTERM stops it cleanly')
    })
  }
}

test('built: start with WORKERS=2: each worker forked from the executable serves too', async (t) => {
  const server = await startServer(t, { STORE: 'sqlite', DATA_DIR: tempDir(t), WORKERS: '2' }, [BUILT, 'start'])
  const listening = (): number => server.output().match(/Server listening at/g)?.length ?? 0
  const deadline = Date.now() + 60_000
  while (listening() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(listening(), 2, 'both workers listen', { output: server.output() })
  t.notMatch(server.output(), /usage: fastify-stateless-session/, 'no worker took another path')
  t.equal((await fetch(`${server.url}/healthz`)).status, 200)
  t.equal(await server.stop(), 0)
})

test('built: --help and --version load no dependency; the subcommands load their own', async (t) => {
  // Records the CommonJS modules loaded (every package imported from an ES module goes through Node's
  // CommonJS loader: entry-points.test.ts), printed on stderr at exit.
  const hook = 'import { createRequire } from "node:module"; const require = createRequire(process.cwd() + "/"); ' +
    'process.on("exit", () => { process.stderr.write("\\nloaded: " + JSON.stringify(Object.keys(require.cache))) })'
  const loaded = (...command: string[]): string[] => {
    const run = spawnSync(process.execPath, [`--import=data:text/javascript,${encodeURIComponent(hook)}`, BUILT, ...command], { env: testEnv(), encoding: 'utf8', timeout: 60_000 })
    const list = /\nloaded: (.*)$/.exec(run.stderr)?.[1]
    if (list === undefined) throw new Error(run.stderr)
    const packages = (JSON.parse(list) as string[]).map((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1])
    // The test runner injects its own hooks into child processes: look only for the package's dependencies.
    return [...new Set(packages)].filter((name): name is string => name !== undefined && (name in manifest.dependencies || name in manifest.peerDependencies))
  }
  t.same(loaded('--help'), [], '--help')
  t.same(loaded('--version'), [], '--version')
  t.ok(loaded('users', '--help').includes('better-sqlite3'), 'the method sees what users --help loads')
})
