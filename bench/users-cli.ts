/**
 * How long `users add` takes on a data directory holding many live revocations (docs/benchmarks.md, "The
 * users CLI"): the CLI of this checkout against the one of another build (`--before <dist dir>`), alternating,
 * wall time of the whole process (node start, configuration, store, argon2id at OWASP's cost, exit).
 *
 *   npm run bench:users-cli -- [--revocations 1000000] [--rounds 5] [--before /path/to/other/dist]
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { openSqliteDatabase } from '../src/stores/sqlite-database.js'
import { SQLITE_FILE } from '../src/service/open-stores.js'

const { values } = parseArgs({ options: { revocations: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' }, before: { type: 'string' } } })
const revocations = Number(values.revocations)
const rounds = Number(values.rounds)
const dir = mkdtempSync(join(tmpdir(), 'users-cli-bench-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

// Live revocations of single tokens, as a busy service records them at each logout.
const db = openSqliteDatabase({ path: join(dir, SQLITE_FILE) })
const insert = db.prepare("INSERT INTO revocations (kind, id, not_before, expires_at) VALUES ('token', ?, NULL, ?)")
const expires = Math.floor(Date.now() / 1000) + 86400
db.transaction(() => { for (let i = 0; i < revocations; i++) insert.run(randomBytes(16).toString('base64url'), expires) })()
db.close()

const builds: Array<[string, string]> = [['this checkout', resolve('dist')]]
if (values.before !== undefined) builds.unshift(['before', resolve(values.before)])
const env = { PATH: process.env['PATH'] ?? '', NODE_ENV: 'development', STORE: 'sqlite', DATA_DIR: dir, SESSION_SECRET: randomBytes(32).toString('base64url'), LOG_LEVEL: 'warn' }
const times = new Map<string, number[]>(builds.map(([label]) => [label, []]))
const failures = new Map<string, string[]>(builds.map(([label]) => [label, []]))
let n = 0
for (let round = 0; round < rounds; round++) {
  for (const [label, dist] of builds) {
    const started = performance.now()
    const run = spawnSync(process.execPath, [join(dist, 'service/cli/users-main.js'), 'add', `user${n++}`, '--password-stdin'], { env, input: 'a long passphrase', encoding: 'utf8' })
    const ms = performance.now() - started
    if (run.status !== 0) failures.get(label)?.push(`exit ${String(run.status)} after ${ms.toFixed(0)} ms: ${run.stderr.trim().split('\n')[0] ?? ''}`)
    else times.get(label)?.push(ms)
  }
}
console.log(`users add, ${revocations.toLocaleString('en')} live revocations in ${join(dir, SQLITE_FILE)}, ${rounds} rounds (wall ms):`)
for (const [label, ms] of times) {
  const sorted = [...ms].sort((a, b) => a - b)
  console.log(`  ${label}: ${ms.length} ok${ms.length === 0 ? '' : `, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)}, min ${sorted[0]?.toFixed(0)}, max ${sorted.at(-1)?.toFixed(0)}`}`)
  for (const failure of failures.get(label) ?? []) console.log(`    failed: ${failure}`)
}
