/**
 * This project's code as the benchmarks load it: the build in dist/ (tsc's output, what `npm start` and the
 * installed package run; built here first when older than the sources), or with BENCH_CODE=src the
 * TypeScript sources through tsx. The peers run the JavaScript they publish, so ours runs its built
 * JavaScript too: tsx (esbuild) wraps each function it creates in a naming helper, and the refresh route
 * creates several per request (docs/benchmarks.md says what it changed).
 *
 * A build older than a source file is brought up to date before anything is loaded (the runner loads this
 * first, so its contenders find it current): measuring other code than the tree's would be worse than the few
 * seconds it takes. The types always come from the sources, so type-checking needs no build.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

const fromSources = process.env['BENCH_CODE'] === 'src'

// The same check `npm start` makes (scripts/build-if-stale.mjs): build when a source is newer than dist/.
if (!fromSources) execFileSync(process.execPath, [join(import.meta.dirname, '..', 'scripts', 'build-if-stale.mjs')], { stdio: 'inherit' })

export const ours = await import(fromSources ? '../src/index.js' : '../dist/index.js') as typeof import('../src/index.js')
export const oursSqlite = await import(fromSources ? '../src/sqlite.js' : '../dist/sqlite.js') as typeof import('../src/sqlite.js')
export const oursService = await import(fromSources ? '../src/service/app.js' : '../dist/service/app.js') as typeof import('../src/service/app.js')
export const oursDenylist = await import(fromSources ? '../src/session/denylist.js' : '../dist/session/denylist.js') as typeof import('../src/session/denylist.js')
/** Which code the figures are of. */
export const OUR_CODE = fromSources ? 'the sources through tsx (BENCH_CODE=src)' : 'the build in dist/'
