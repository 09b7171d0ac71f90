/**
 * Run by `npm test` between the test run and c8's report: sets aside the coverage of a source file from the
 * few processes that compiled it differently from all the others.
 *
 * Why: c8 merges V8's raw coverage of one file from every process by character offsets, before mapping it
 * back to the TypeScript. tsx compiles each process's files itself, and its output depends on the tsconfig it
 * finds: a process started from another working directory without one gets output a few characters off
 * (`verbatimModuleSyntax` keeps an empty import list). Merged with the rest, those offsets moved whole
 * functions of src/service/workers.ts and src/stores/redis-client.ts onto the wrong ranges: a fresh-clone
 * run reported workers.ts at 57% while its tests ran all of it (docs/contributing.md, "Coverage").
 *
 * How: each process's coverage file records, per compiled file, the line lengths of the code it ran
 * (`source-map-cache`). The variant most processes ran is kept; a process with another variant of a file
 * loses that file's entry only (its other files still count). What was set aside is printed, so a drop in
 * the figures can be traced to it.
 *
 *   tsx scripts/coverage-same-compile.ts [temp directory, default coverage/tmp]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

interface ProcessCoverage {
  result: Array<{ url: string }>
  'source-map-cache'?: Record<string, { lineLengths?: number[] }>
}

/** A compiled file's identity: the lengths of its lines, without the last (the inline source map). */
function variantOf (coverage: ProcessCoverage, url: string): string | undefined {
  const lengths = coverage['source-map-cache']?.[url]?.lineLengths
  return lengths === undefined ? undefined : lengths.slice(0, -1).join(',')
}

export interface SetAside {
  url: string
  /** Processes (coverage files) whose entry was removed. */
  files: string[]
  /** Processes that ran the kept variant. */
  kept: number
}

/** Rewrites the coverage files of `dir` in place; answers what was removed. `relevant` picks the URLs to check. */
export function keepOneCompilation (dir: string, relevant: (url: string) => boolean): SetAside[] {
  const files = readdirSync(dir).filter((name) => name.endsWith('.json'))
  // url -> variant -> coverage files
  const variants = new Map<string, Map<string, string[]>>()
  for (const file of files) {
    const coverage = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProcessCoverage
    for (const { url } of coverage.result) {
      if (!relevant(url)) continue
      const variant = variantOf(coverage, url)
      if (variant === undefined) continue
      const byVariant = variants.get(url) ?? new Map<string, string[]>()
      variants.set(url, byVariant)
      byVariant.set(variant, [...(byVariant.get(variant) ?? []), file])
    }
  }
  const setAside: SetAside[] = []
  const removals = new Map<string, Set<string>>() // coverage file -> urls to remove
  for (const [url, byVariant] of variants) {
    if (byVariant.size < 2) continue
    const ranked = [...byVariant.values()].sort((a, b) => b.length - a.length)
    const others = ranked.slice(1).flat()
    setAside.push({ url, files: others, kept: (ranked[0] as string[]).length })
    for (const file of others) removals.set(file, (removals.get(file) ?? new Set()).add(url))
  }
  for (const [file, urls] of removals) {
    const path = join(dir, file)
    const coverage = JSON.parse(readFileSync(path, 'utf8')) as ProcessCoverage
    coverage.result = coverage.result.filter(({ url }) => !urls.has(url))
    const maps = coverage['source-map-cache']
    if (maps !== undefined) for (const url of urls) Reflect.deleteProperty(maps, url)
    writeFileSync(path, JSON.stringify(coverage))
  }
  return setAside
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const dir = process.argv[2] ?? join('coverage', 'tmp')
  const source = `file://${join(process.cwd(), 'src')}/`
  const setAside = keepOneCompilation(dir, (url) => url.startsWith(source))
  for (const { url, files, kept } of setAside) {
    process.stdout.write(`coverage: set aside ${files.length} process(es)' coverage of ${url.slice(source.length - 4)}, compiled differently from the ${kept} others (${files.join(', ')})\n`)
  }
}
