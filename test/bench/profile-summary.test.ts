/**
 * bench/profile-summary.ts, the reader of `npm run bench -- --cpu-prof` profiles quoted in docs/benchmarks.md,
 * on a real profile: a small script under `node --cpu-prof` that runs start-up work, then a function named
 * `refresh` in a loop. The summary must read only the loop's window, sort every busy sample into one part
 * (the shares add up to 100%), and refuse a profile where the named function never ran.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { tempDir } from '../helper.js'

const SCRIPT = `
function startUp () { const end = Date.now() + 400; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x }
function refresh () { let x = 0; for (let i = 0; i < 100000; i++) x += i % 7; return x }
startUp()
const end = Date.now() + 600
while (Date.now() < end) refresh()
`

function summary (...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const { NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const run = spawnSync(process.execPath, [...process.execArgv, 'bench/profile-summary.ts', ...args], { env, encoding: 'utf8', timeout: 60_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

test('a profile summed by part, from the named function on', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'load.mjs'), SCRIPT)
  const { NODE_V8_COVERAGE: _coverage, ...env } = process.env
  const profiled = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, join(dir, 'load.mjs')], { env, encoding: 'utf8', timeout: 60_000 })
  t.equal(profiled.status, 0, 'the script ran under --cpu-prof', { stderr: profiled.stderr })
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error('no profile written')

  const read = summary(join(dir, file), '--from', 'refresh', '--requests-per-second', '1000')
  t.equal(read.status, 0, 'summarised', { stderr: read.stderr })
  const window = /^([\d.]+) s of load, busy (\d+)% of it\n/.exec(read.stdout)
  t.ok(window !== null, 'the window and how busy it was', { stdout: read.stdout })
  // The loop ran about 0.6 s after 0.4 s of start-up: only the loop's window is read.
  t.ok(Number(window?.[1]) < 0.95, `the start-up is left out (${window?.[1] ?? '?'} s read)`)
  const rows = [...read.stdout.matchAll(/^\| ([^|]+) \| ([\d.]+)% \| (\d+) \|$/gm)]
  t.ok(rows.length > 0, 'a table of parts')
  const total = rows.reduce((sum, row) => sum + Number(row[2]), 0)
  t.ok(Math.abs(total - 100) < 0.6, `the shares add up to 100% (${total.toFixed(1)})`)
  t.equal(rows[0]?.[1], 'other', 'the script\'s own loop is none of the service\'s parts')

  const missing = summary(join(dir, file), '--from', 'noSuchFunction')
  t.not(missing.status, 0, 'a function that never ran is refused')
  t.match(missing.stderr, 'no sample has noSuchFunction on its stack')
  t.not(summary().status, 0, 'no file: refused')
})
