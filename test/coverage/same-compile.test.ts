/**
 * scripts/coverage-same-compile.ts on coverage written by real processes: two processes compile
 * test/fixtures/coverage-compile/src/mixed.ts with the fixture's tsconfig.json and run `two`; a third, from
 * another working directory without a tsconfig, gets it compiled 2 characters shorter and runs `one`. Merged
 * as they are, c8 reports the body of `two` as never run (the failure that showed workers.ts at 57% in a
 * fresh clone). The script sets the third process's entry of that file aside (only that entry), and c8 then
 * reports what the other two ran.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { test } from 'tap'
import { keepOneCompilation } from '../../scripts/coverage-same-compile.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/coverage-compile/', import.meta.url))
const mixed = pathToFileURL(join(fixture, 'src/mixed.ts')).href
const tsx = import.meta.resolve('tsx')

/** Without the outer run's coverage and tsconfig settings (npm test names the project's to every process). */
function cleanEnv (coverageDir: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('_TAPJS_') && !['NODE_V8_COVERAGE', 'NODE_OPTIONS', 'TSX_TSCONFIG_PATH'].includes(key)))
  return { ...env, NODE_V8_COVERAGE: coverageDir }
}

function run (script: string, cwd: string, coverageDir: string): void {
  const result = spawnSync(process.execPath, [`--import=${tsx}`, join(fixture, script)], { cwd, env: cleanEnv(coverageDir), encoding: 'utf8', timeout: 60_000 })
  if (result.status !== 0) throw new Error(`${script}: ${result.stderr}`)
}

interface Coverage { result: Array<{ url: string }>, 'source-map-cache'?: Record<string, { lineLengths: number[] }> }

const read = (dir: string, file: string): Coverage => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Coverage

/** How often c8 reports the body of `one` and of `two` in mixed.ts as run (its statement counts), from the coverage in `dir`. */
function reported (dir: string, work: string): { one: number, two: number } {
  const config = join(work, `c8-${readdirSync(work).length}.json`)
  const reportDir = join(work, `report-${readdirSync(work).length}`)
  writeFileSync(config, JSON.stringify({ all: false, include: ['src/**'], extension: ['.ts'], reporter: ['json'], 'report-dir': reportDir, 'temp-directory': dir, 'check-coverage': false }))
  const report = spawnSync(process.execPath, [join(root, 'node_modules/c8/bin/c8.js'), 'report', '--config', config], { cwd: fixture, env: cleanEnv(''), encoding: 'utf8', timeout: 60_000 })
  if (report.status !== 0) throw new Error(report.stderr)
  const json = JSON.parse(readFileSync(join(reportDir, 'coverage-final.json'), 'utf8')) as Record<string, { statementMap: Record<string, { start: { line: number } }>, s: Record<string, number> }>
  const file = json[join(fixture, 'src/mixed.ts')]
  if (file === undefined) throw new Error(`mixed.ts missing from ${Object.keys(json).join(', ')}`)
  const lines = readFileSync(join(fixture, 'src/mixed.ts'), 'utf8').split('\n')
  const countAt = (text: string): number => {
    const line = lines.findIndex((l) => l.includes(text)) + 1
    const id = Object.keys(file.statementMap).find((key) => file.statementMap[key]?.start.line === line)
    if (id === undefined) throw new Error(`no statement on line ${line}`)
    return file.s[id] as number
  }
  return { one: countAt('return typeof EventEmitter'), two: countAt('return emitter === undefined') }
}

test('a file compiled differently by one process: that entry is set aside, c8 then reports what ran', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'same-compile-'))
  t.teardown(() => { rmSync(work, { recursive: true, force: true }) })
  const raw = join(work, 'raw')
  run('two.ts', fixture, raw)
  run('two.ts', fixture, raw)
  run('one.ts', work, raw)
  const files = readdirSync(raw).filter((name) => read(raw, name).result.some(({ url }) => url === mixed))
  t.equal(files.length, 3, 'three processes ran mixed.ts')
  const variants = files.map((name) => read(raw, name)['source-map-cache']?.[mixed]?.lineLengths[0])
  t.equal(new Set(variants).size, 2, `two compilations of it (first line ${variants.join(', ')} characters)`)
  const odd = files.find((name) => read(raw, name).result.some(({ url }) => url.endsWith('/one.ts'))) as string

  t.same(reported(raw, work), { one: 1, two: 0 }, 'merged as they are, c8 reports the body of `two` as never run, although two processes ran it (and the odd one ran `one`)')

  const filtered = join(work, 'filtered')
  cpSync(raw, filtered, { recursive: true })
  const setAside = keepOneCompilation(filtered, (url) => url.startsWith(pathToFileURL(fixture).href))
  t.same(setAside, [{ url: mixed, files: [odd], kept: 2 }], 'the odd process\'s entry of mixed.ts, only')
  const after = read(filtered, odd)
  t.notOk(after.result.some(({ url }) => url === mixed), 'its coverage of mixed.ts is gone')
  t.notOk(mixed in (after['source-map-cache'] ?? {}), 'and its source map')
  t.ok(after.result.some(({ url }) => url.endsWith('/one.ts')), 'its other files stay')
  t.same(reported(filtered, work), { one: 0, two: 2 }, 'set aside, c8 reports `two` run twice and `one` never: what the two kept processes ran (the odd process\'s run of `one` is lost, not misplaced)')
  t.same(keepOneCompilation(filtered, () => true), [], 'a second pass finds nothing to set aside')
})
