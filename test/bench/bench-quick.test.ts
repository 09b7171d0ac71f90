/**
 * Smoke test of `npm run bench`: its quick mode runs every step against real servers and writes the report
 * into a temporary directory. No speed is asserted (docs/benchmarks.md judges speed); what is checked is
 * that every contender ran, answered its check and carried load without errors, and that the report holds
 * the figures of this run.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { test } from 'tap'
import { BEGIN, END, renderReport, type Report } from '../../bench/report.js'

const run = promisify(execFile)

// A run takes about two minutes on a quiet machine and well over the suite's 180 s when other work shares
// its two cores: this file alone gets longer.
t.setTimeout(600_000)

test('npm run bench -- --quick runs every contender and writes the report and chart', { timeout: 600_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })
  // Without NODE_V8_COVERAGE: the coverage of `npm test` (c8) would otherwise make each of the bench's two
  // dozen processes count every block it runs and write a report of every script it loaded, for figures that
  // the tests of src/ give anyway.
  const { NODE_V8_COVERAGE: _coverage, ...env } = process.env
  await run('npm', ['run', 'bench', '--', '--quick', '--out', out], { env, maxBuffer: 16 * 1024 * 1024, timeout: 540_000 })

  const report = JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8')) as Report
  // Quick mode skips the peers' warm rows (same code as their cold rows) and WORKERS=1 (same as refresh-sqlite).
  t.same(report.rows.map((r) => r.id), ['bare', 'floor-cold', 'ours-warm', 'ours-warm-metrics', 'ours-cold', 'secure-session-cold', 'fastify-jwt-cold',
    'iron-session-cold', 'express-session', 'refresh-sqlite', 'refresh-redis', 'refresh-sqlite-2-workers'])
  for (const row of report.rows) {
    t.ok(row.requestsPerSecond > 0, `${row.id} carried load`)
    t.equal(row.ratio, row.requestsPerSecond / (report.rows[0] as Report['rows'][0]).requestsPerSecond, `${row.id}: ratio to bare from the same round`)
  }
  for (const id of ['ours-cold', 'floor-cold', 'secure-session-cold', 'fastify-jwt-cold']) {
    t.equal(report.rows.find((r) => r.id === id)?.repeats, 0, `${id}: requests each carried a never-seen cookie`)
  }
  t.ok(report.login.requestsPerSecond > 0, 'login measured')
  t.ok(report.verify.ours.median > 0 && report.verify.joseFastJwt.median > 0 && report.verify.floor.median > 0, 'the three verify costs measured')
  t.ok(report.denylist.bytes > 0 && report.denylist.loadSeconds > 0, 'denylist measured')
  t.ok(report.propagation !== undefined && report.propagation.endToEnd.p99 > 0, 'propagation measured')
  t.ok(report.propagationSqlite !== undefined && report.propagationSqlite.endToEnd.p99 > 0, 'propagation over SQLite measured')

  const doc = readFileSync(join(out, 'benchmarks.md'), 'utf8')
  t.ok(doc.includes(BEGIN) && doc.includes(END), 'generated part between its markers')
  t.match(doc, /\| this project, cold \| [\d,]+ \|/)
  t.match(doc, /\| Cold verify in-process ≤ 8 µs per token \| [\d.]+ µs/)
  t.match(doc, /\| Cold protected route ≥ 90% of the floor/)
  t.match(doc, /Noise of this run: one round only/)
  t.match(doc, /\| this project, warm, with metrics on \| [\d,]+ \|/)
  t.match(doc, /\| Warm protected route with metrics on within 3 points of the warm row \| [\d.]+% vs [\d.]+% \|/)
  t.match(doc, /npm run bench -- --quick/)
  const svg = readFileSync(join(out, 'benchmarks.svg'), 'utf8')
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.equal(svg.match(/<rect x=/g)?.length, report.rows.length, 'one bar per contender')

  // A new run replaces only the generated part of docs/benchmarks.md; the hand-written analysis stays.
  const handWritten = `# Benchmarks\n\nintro\n\n${BEGIN}\nold figures\n${END}\n\n## Analysis\n\nhand-written\n`
  const next = renderReport(report, handWritten)
  t.ok(next.startsWith('# Benchmarks\n\nintro\n\n<!-- bench:begin'))
  t.ok(next.endsWith(`${END}\n\n## Analysis\n\nhand-written\n`))
  t.notOk(next.includes('old figures'))
  const fresh = renderReport(report, '# Benchmarks\n\n## Later section\n')
  t.ok(fresh.indexOf(BEGIN) < fresh.indexOf('## Later section'), 'inserted after the title the first time')
})
