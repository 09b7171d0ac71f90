/**
 * The package as a user gets it: `npm pack`, then a throwaway project in a temporary directory installs the
 * tarball, type-checks its server code (test/package/consumer/server.ts), its browser code
 * (test/package/consumer/client.ts) and the entry-point examples of docs/plugin.md against it, with `strict`
 * and `skipLibCheck: false`, and runs the server code: the plugin protects routes and the shipped browser
 * client logs in against it; the executable of package.json's `bin` answers through node_modules/.bin.
 *
 * The install uses `--ignore-scripts`: better-sqlite3 would otherwise compile from source (minutes here), and
 * nothing run below loads it (the package root and `./client` load no native module, entry-points.test.ts; the
 * executable's `users --help` loads better-sqlite3's JavaScript, which loads the compiled part only to open a
 * database).
 */
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

// Packing builds the package and the install reads the npm cache: minutes on a busy machine.
t.setTimeout(20 * 60_000)

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixtures = fileURLToPath(new URL('./consumer/', import.meta.url))
const ownPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  version: string
  bin: Record<string, string>
  exports: Record<string, string | Record<string, string>>
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
  devDependencies: Record<string, string>
}

/** The environment of a user's shell: none of the test runner's hooks, coverage or npm script variables. */
function userEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|TAP|NODE_OPTIONS$|NODE_V8_COVERAGE$|_TAPJS)/i.test(name)) continue
    env[name] = value
  }
  return env
}

interface Run { code: number, stdout: string, stderr: string }

async function run (command: string, args: string[], cwd: string): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(command, args, { cwd, env: userEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** The ```ts examples between the entry-points markers of docs/plugin.md. */
function entryPointExamples (): string[] {
  const doc = readFileSync(join(root, 'docs/plugin.md'), 'utf8')
  const section = /<!-- entry-points:start[^>]*-->([\s\S]*?)<!-- entry-points:end -->/.exec(doc)?.[1]
  if (section === undefined) throw new Error('docs/plugin.md has no entry-points section')
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string)
}

t.test('the packed package in a consumer project', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'consumer-'))
  t.teardown(() => { rmSync(work, { recursive: true, force: true }) })

  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], root)
  t.equal(pack.code, 0, 'npm pack succeeds', { stderr: pack.stderr.slice(-4000) })
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  if (packed === undefined) throw new Error('npm pack listed no package')
  const files = new Set(packed.files.map((file) => file.path))

  await t.test('the tarball holds what a user needs and nothing of the repository\'s own', async (t) => {
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/plugin.md', '.env.example']) {
      t.ok(files.has(needed), `${needed} is shipped`)
    }
    for (const [entry, target] of Object.entries(ownPackage.exports)) {
      for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
        t.ok(files.has(file.replace(/^\.\//, '')), `${entry} -> ${file} is shipped`)
      }
    }
    for (const [name, file] of Object.entries(ownPackage.bin)) t.ok(files.has(file), `the executable ${name} -> ${file} is shipped`)
    const foreign = [...files].filter((path) => /^(test|bench|scripts|tools|\.ci)\/|tsbuildinfo|\.test\.|^node_modules\//.test(path))
    t.same(foreign, [], 'no tests, benchmarks, build state or CI files')
  })

  const consumer = join(work, 'consumer')
  mkdirSync(join(consumer, 'src'), { recursive: true })
  mkdirSync(join(consumer, 'browser'), { recursive: true })
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({
    name: 'consumer',
    private: true,
    type: 'module',
    dependencies: {
      [ownPackage.name]: `file:../${packed.filename}`,
      fastify: ownPackage.peerDependencies['fastify']
    },
    devDependencies: { '@types/node': ownPackage.devDependencies['@types/node'] }
  }, null, 2))

  const strictness = { strict: true, skipLibCheck: false, target: 'ES2022', forceConsistentCasingInFileNames: true }
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { ...strictness, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'], rootDir: 'src', outDir: 'out' },
    include: ['src']
  }, null, 2))
  writeFileSync(join(consumer, 'tsconfig.browser.json'), JSON.stringify({
    compilerOptions: { ...strictness, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: [], noEmit: true },
    include: ['browser']
  }, null, 2))
  copyFileSync(join(fixtures, 'server.ts'), join(consumer, 'src/server.ts'))
  copyFileSync(join(fixtures, 'client.ts'), join(consumer, 'browser/client.ts'))
  const examples = entryPointExamples()
  for (const [i, example] of examples.entries()) {
    // The browser client's example is browser code; the others are server code.
    const folder = example.includes(`'${ownPackage.name}/client'`) ? 'browser' : 'src'
    writeFileSync(join(consumer, folder, `plugin-md-example-${i + 1}.ts`), `${example}\nexport {}\n`)
  }

  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], consumer)
  t.equal(install.code, 0, 'the consumer installs the tarball', { stderr: install.stderr.slice(-4000) })
  const installed = join(consumer, 'node_modules', ownPackage.name)

  await t.test('Fastify is a peer dependency: the app and the plugin share one copy', async (t) => {
    t.notOk(existsSync(join(installed, 'node_modules', 'fastify')), 'no copy of fastify nested under the package')
    t.ok(existsSync(join(consumer, 'node_modules', 'fastify', 'package.json')), 'the app\'s own')
  })

  await t.test('an app on a Fastify outside the range is told at install, not given a second copy', async (t) => {
    // A nested second copy would carry the plugin's type augmentation (request.session) and version check
    // apart from the app's Fastify; as a peer, npm refuses the install and says why.
    const old = join(work, 'old-fastify')
    mkdirSync(old)
    writeFileSync(join(old, 'package.json'), JSON.stringify({ name: 'old-fastify', private: true, dependencies: { [ownPackage.name]: `file:../${packed.filename}`, fastify: '5.0.0' } }))
    const refused = await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], old)
    t.not(refused.code, 0, 'npm install fails')
    t.match(refused.stderr, /ERESOLVE[\s\S]*peer fastify@"\^5\./, 'with ERESOLVE naming the peer range')
  })

  await t.test('the shipped package.json asks nothing of the consumer\'s install', async (t) => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { private?: boolean, scripts?: Record<string, string>, license?: string }
    t.equal(manifest.private, undefined, 'not private')
    t.equal(manifest.license, 'MIT')
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) t.notOk(manifest.scripts?.[hook], `no ${hook} script`)
  })

  await t.test('every source map and declaration map points at shipped files', async (t) => {
    const maps: string[] = []
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (entry.name.endsWith('.map')) maps.push(path)
      }
    }
    walk(join(installed, 'dist'))
    t.ok(maps.length > 50, `${maps.length} maps`)
    const missing: string[] = []
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }
      for (const source of sources) {
        const path = resolve(dirname(map), source)
        if (!existsSync(path)) missing.push(`${relative(installed, map)} -> ${source}`)
      }
    }
    t.same(missing, [], 'no map names a missing file')
  })

  await t.test('the executable is installed in node_modules/.bin and answers', async (t) => {
    const bin = join(consumer, 'node_modules/.bin', ownPackage.name)
    t.ok(existsSync(bin), `node_modules/.bin/${ownPackage.name} exists`)
    const help = await run(bin, ['--help'], consumer)
    t.equal(help.code, 0, '--help exits 0', { stderr: help.stderr.slice(-4000) })
    t.match(help.stdout, new RegExp(`^usage: ${ownPackage.name} `))
    for (const command of ['start', 'users', 'backup']) t.match(help.stdout, new RegExp(`\\n {2}${command} `), `--help lists ${command}`)
    const version = await run(bin, ['--version'], consumer)
    t.equal(version.code, 0)
    t.equal(version.stdout, `${ownPackage.version}\n`, '--version prints the package\'s version')
    const wrong = await run(bin, ['frobnicate'], consumer)
    t.equal(wrong.code, 2, 'an unknown command exits 2')
    t.match(wrong.stderr, /^error: unknown command "frobnicate"\nusage: /)
    // The CLIs' own entries resolve in the installed layout (the service itself needs the compiled better-sqlite3).
    const users = await run(bin, ['users', '--help'], consumer)
    t.equal(users.code, 0, 'users --help', { stderr: users.stderr.slice(-4000) })
    t.match(users.stdout, /^usage: fastify-stateless-session users <command>\n/)
    const backup = await run(bin, ['backup', '--help'], consumer)
    t.equal(backup.code, 0, 'backup --help', { stderr: backup.stderr.slice(-4000) })
    t.match(backup.stdout, /^usage: fastify-stateless-session backup <command> <file>\n/)
  })

  const tsc = join(root, 'node_modules/typescript/bin/tsc')

  await t.test('server code type-checks against the package with strict and skipLibCheck false', async (t) => {
    t.ok(examples.length >= 6, `${examples.length} examples of docs/plugin.md among it`)
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer)
    t.equal(check.code, 0, 'tsc passes', { output: check.stdout.slice(-6000) })
  })

  await t.test('browser code type-checks against ./client with the DOM library and no Node.js types', async (t) => {
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.browser.json'], consumer)
    t.equal(check.code, 0, 'tsc passes', { output: check.stdout.slice(-6000) })
  })

  await t.test('the installed package runs: the plugin protects a route and the client logs in', async (t) => {
    const script = "const { main } = await import('./out/server.js'); process.stdout.write(JSON.stringify(await main()))"
    const result = await run(process.execPath, ['--input-type=module', '-e', script], consumer)
    t.equal(result.code, 0, 'the consumer runs', { stderr: result.stderr.slice(-4000) })
    t.same(JSON.parse(result.stdout), {
      anonymous: { status: 401, code: 'ERR_SESSION_INVALID' },
      expectedCode: 'ERR_SESSION_INVALID',
      login: 'alice',
      me: { status: 200, body: { username: 'alice', stale: false } },
      admin: 204
    })
  })
})
