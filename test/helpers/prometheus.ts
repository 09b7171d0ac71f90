/** Reads the Prometheus text exposition format, as a scrape sees it. */

export interface Scrape {
  text: string
  /** `# TYPE` of each metric family. */
  types: Map<string, string>
  /** Value of each sample, keyed `name{a="x",b="y"}` with labels as written (prom-client sorts none). */
  samples: Map<string, number>
}

export function parseMetrics (text: string): Scrape {
  const types = new Map<string, string>()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1] as string, type[2] as string)
    if (line === '' || line.startsWith('#')) continue
    const sample = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line)
    if (sample === null) throw new Error(`not a sample line: ${line}`)
    samples.set(sample[1] as string, Number(sample[2]))
  }
  return { text, types, samples }
}

/** The value of one sample, labels given in any order; undefined when absent. */
export function sample (scrape: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
  for (const [key, value] of scrape.samples) {
    const open = key.indexOf('{')
    if ((open === -1 ? key : key.slice(0, open)) !== name) continue
    const found = open === -1 ? [] : [...key.slice(open + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]])
    if (found.length === wanted.length && wanted.every(([k, v]) => found.some(([fk, fv]) => fk === k && fv === v))) return value
  }
  return undefined
}

/** Fetches and parses a real metrics endpoint. */
export async function scrape (url: string): Promise<Scrape> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`scrape of ${url}: ${response.status}`)
  return parseMetrics(await response.text())
}
