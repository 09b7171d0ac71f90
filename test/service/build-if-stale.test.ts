/**
 * scripts/build-if-stale.mjs, the pre-step of `npm start`, `npm run users`, `npm run backup` and `npm run demo`:
 * it builds dist/ when a source is newer than the last build and not otherwise, and in a production install
 * (no TypeScript) it runs on a current build and says what to do about a stale one. On a copy of src/ and the
 * tsconfig files in a temporary directory, with the real tsc.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, utimesSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'tap'
import { tempDir } from '../helper.js'

const root = resolve('.')

function copyOfProject (dir: string, withTypeScript: boolean): void {
  cpSync(join(root, 'src'), join(dir, 'src'), { recursive: true })
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(root, file), join(dir, file))
  mkdirSync(join(dir, 'scripts'))
  cpSync(join(root, 'scripts', 'build-if-stale.mjs'), join(dir, 'scripts', 'build-if-stale.mjs'))
  if (withTypeScript) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  else mkdirSync(join(dir, 'node_modules'))
}

function run (dir: string): { status: number | null, stderr: string } {
  const result = spawnSync(process.execPath, [join(dir, 'scripts', 'build-if-stale.mjs')], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
  return { status: result.status, stderr: result.stderr }
}

const stampOf = (dir: string): number => statSync(join(dir, 'dist', '.tsbuildinfo')).mtimeMs
const minutesAgo = (minutes: number): Date => new Date(Date.now() - minutes * 60_000)
const setTime = (path: string, time: Date): void => { utimesSync(path, time, time) }

/** Every source and tsconfig file of the copy `minutes` old, the build stamp `stampMinutes` old. */
function age (dir: string, minutes: number, stampMinutes: number): void {
  const walk = (path: string): void => {
    if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry))
    else setTime(path, minutesAgo(minutes))
  }
  walk(join(dir, 'src'))
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) setTime(join(dir, file), minutesAgo(minutes))
  setTime(join(dir, 'dist', '.tsbuildinfo'), minutesAgo(stampMinutes))
}

test('builds when there is no build or a source is newer, and only then', async (t) => {
  const dir = tempDir(t)
  copyOfProject(dir, true)
  t.equal(run(dir).status, 0, 'first run')
  t.ok(existsSync(join(dir, 'dist', 'service', 'server.js')), 'dist/ built')

  age(dir, 120, 60)
  const unchanged = stampOf(dir)
  t.equal(run(dir).status, 0, 'second run')
  t.equal(stampOf(dir), unchanged, 'nothing newer than the build: no build (the stamp is untouched)')

  setTime(join(dir, 'src', 'index.ts'), minutesAgo(30))
  t.equal(run(dir).status, 0, 'after a source changed')
  t.ok(stampOf(dir) > Date.now() - 60_000, 'built again, and the stamp says so even when tsc had nothing to write')

  age(dir, 120, 60)
  setTime(join(dir, 'tsconfig.build.json'), minutesAgo(30))
  t.equal(run(dir).status, 0)
  t.ok(stampOf(dir) > Date.now() - 60_000, 'a changed tsconfig builds too')
})

test('a production install (no TypeScript): a current build runs; a stale one is one line and exit 1', async (t) => {
  const built = tempDir(t)
  copyOfProject(built, true)
  t.equal(run(built).status, 0)
  const dir = tempDir(t)
  copyOfProject(dir, false)
  cpSync(join(built, 'dist'), join(dir, 'dist'), { recursive: true })
  age(dir, 120, 60)
  const current = run(dir)
  t.equal(current.status, 0, 'the build is current: nothing to do, no tsc needed')
  t.equal(current.stderr, '')

  setTime(join(dir, 'src', 'index.ts'), minutesAgo(30))
  const stale = run(dir)
  t.equal(stale.status, 1)
  t.equal(stale.stderr, 'error: dist/ is older than src/ and TypeScript is not installed (a production install?): build first with `npm ci && npm run build`, then `npm prune --omit=dev`\n')
})
