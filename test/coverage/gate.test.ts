/**
 * The coverage gate of `npm test` (c8 with the project's .c8rc.json) can fail. A fixture with its own src/
 * is run through tsx, as tap runs the test files, under the very same configuration: a run that leaves a
 * function, a branch and a whole file untested gets figures under 100% for the TypeScript lines that were
 * missed, lists the file no one loaded, and exits non-zero against the thresholds; a run that takes every
 * path gets 100% and exits 0. The partial run's figures (60-75%) must stay under the project's thresholds.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import ts from 'typescript'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fixture = fileURLToPath(new URL('../fixtures/coverage/', import.meta.url))
const c8 = join(root, 'node_modules/c8/bin/c8.js')
const METRICS = ['statements', 'branches', 'functions', 'lines'] as const

interface Figures { total: number, covered: number, pct: number }
type Summary = Record<string, Record<(typeof METRICS)[number], Figures>>

/** Without the outer run's coverage settings: tap's own collector (an inspector session) resets V8's counters. */
function cleanEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('_TAPJS_') && key !== 'NODE_V8_COVERAGE' && key !== 'NODE_OPTIONS'))
}

function cover (driver: string): { status: number | null, text: string, summary: Summary } {
  const out = mkdtempSync(join(tmpdir(), 'coverage-gate-'))
  try {
    const run = spawnSync(process.execPath, [
      c8, '--config', join(root, '.c8rc.json'),
      '--reporter', 'text', '--reporter', 'json-summary',
      '--report-dir', join(out, 'report'), '--temp-directory', join(out, 'tmp'),
      process.execPath, '--import=tsx', driver
    ], { cwd: fixture, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 })
    const summary = JSON.parse(readFileSync(join(out, 'report', 'coverage-summary.json'), 'utf8')) as Summary
    return { status: run.status, text: `${run.stdout}${run.stderr}`, summary }
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

const file = (summary: Summary, name: string): Summary[string] => {
  const entry = summary[join(fixture, 'src', name)]
  if (entry === undefined) throw new Error(`${name} missing from the report: ${Object.keys(summary).join(', ')}`)
  return entry
}

test('an untested function, branch and file fail the gate, reported on the .ts lines', async (t) => {
  const { status, text, summary } = cover('partial.ts')
  t.equal(status, 1, 'non-zero exit against the thresholds')
  const pricing = file(summary, 'pricing.ts')
  t.same([pricing.functions.covered, pricing.functions.total], [3, 4], 'refund() never called')
  t.ok(pricing.branches.pct < 100, 'the HALF branch never taken')
  t.ok(pricing.statements.pct < 100 && pricing.lines.pct < 100)
  // Lines 12-13 (the HALF branch) and 18-20 (refund) of the TypeScript source: mapped back through tsx.
  t.match(text, /pricing\.ts\s*\|[^\n]*\|\s*12-13,18-20\s*$/m)
  const never = file(summary, 'never-loaded.ts')
  t.equal(never.functions.covered, 0, 'a file no one imports is listed, at 0%')
  t.equal(never.lines.pct, 0)
  for (const metric of METRICS) {
    t.match(text, new RegExp(`ERROR: Coverage for ${metric} \\([\\d.]+%\\) does not meet global threshold`), `${metric} under its threshold`)
  }
})

test('the same gate passes when every path is taken', async (t) => {
  const { status, text, summary } = cover('complete.ts')
  t.equal(status, 0, text)
  for (const name of ['pricing.ts', 'never-loaded.ts']) {
    for (const metric of METRICS) t.equal(file(summary, name)[metric].pct, 100, `${name} ${metric}`)
  }
  t.notMatch(text, /ERROR: Coverage/)
})

test('.c8rc.json leaves out only files with no code a test process can run', async (t) => {
  const config = JSON.parse(readFileSync(join(root, '.c8rc.json'), 'utf8')) as { exclude: string[] }
  t.same(config.exclude, ['src/**/*.d.ts', 'src/users/accounts.ts', 'src/service/demo/page/demo-page.ts'])
  // Types only: nothing is left once compiled, so nothing can be loaded or measured (listed by --all at 0%).
  const accounts = ts.transpileModule(readFileSync(join(root, 'src/users/accounts.ts'), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, removeComments: true, verbatimModuleSyntax: true }
  })
  t.equal(accounts.outputText.trim(), 'export {};', 'src/users/accounts.ts compiles to an empty module')
  // The demo page's script runs in the browser (test/e2e/demo.e2e.ts drives it in Chromium), not in Node.
  const page = readFileSync(join(root, 'src/service/demo/page/demo-page.ts'), 'utf8')
  t.match(page, /document\.body/)
  t.notMatch(page, /from 'node:/)
})
