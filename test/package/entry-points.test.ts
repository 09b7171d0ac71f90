/**
 * Each package entry point loads only what it needs: the root (the plugin and the memory store) loads none of
 * the native or network modules; `./sqlite`, `./redis` and `./passwords` load theirs. Run on the build
 * (dist/, as installed), in a fresh process each: CommonJS packages imported from ES modules go through
 * Node's CommonJS loader, so `require.cache` lists every one that was loaded.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'

const HEAVY = ['better-sqlite3', '@node-rs/argon2', 'ioredis']

function loadedPackages (entry: string): string[] {
  const script = `
    import { createRequire } from 'node:module'
    const require = createRequire(import.meta.url)
    await import(${JSON.stringify(fileURLToPath(new URL(`../../dist/${entry}`, import.meta.url)))})
    const packages = new Set(Object.keys(require.cache).map((file) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(file)?.[1]).filter(Boolean))
    process.stdout.write(JSON.stringify([...packages]))`
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  if (run.status !== 0) throw new Error(run.stderr)
  return JSON.parse(run.stdout) as string[]
}

test('the package root loads no native or network module', async (t) => {
  const loaded = loadedPackages('index.js')
  t.ok(loaded.includes('fastify-plugin'), 'the method sees CommonJS packages (fastify-plugin is one)')
  for (const heavy of HEAVY) t.notOk(loaded.includes(heavy), `${heavy} is not loaded`)
})

test('the subpaths load their own backend', async (t) => {
  t.ok(loadedPackages('sqlite.js').includes('better-sqlite3'), './sqlite loads better-sqlite3')
  t.ok(loadedPackages('redis.js').includes('ioredis'), './redis loads ioredis')
  t.ok(loadedPackages('passwords.js').includes('@node-rs/argon2'), './passwords loads @node-rs/argon2')
  // The test runner injects its own hooks into child processes: look only for the package's dependencies
  // (fastify among them, a peer dependency).
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string>, peerDependencies: Record<string, string> }
  const dependencies = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies)]
  t.same(loadedPackages('client/session-client.js').filter((name) => dependencies.includes(name)), [], 'the browser client loads none of the dependencies')
})
