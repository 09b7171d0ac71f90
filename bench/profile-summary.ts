/**
 * Where a contender's server spent its CPU under load, from a profile that `npm run bench -- --cpu-prof ID`
 * wrote into bench-profiles/ (not part of `npm run bench`):
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--from NAME] [--requests-per-second N]
 *
 * Only the samples from the first one whose stack holds a function named NAME (default `refresh`, the
 * refresh route's handler; `authenticate` for the cold rows) on are read: the load, not the start-up. Each
 * sample goes to one part of the work, found from the innermost frame of its stack outwards: the first frame
 * that a part's rule recognises decides (so the AES-GCM calls inside minting count as encrypting, and the
 * service's own code only counts what it does itself). Prints each part's share of the busy time (idle left
 * out) and, given the requests per second that the run printed for the profiled round, CPU µs per request.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface CallFrame { functionName: string, url: string }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], startTime: number, samples: number[], timeDeltas: number[] }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string', default: 'refresh' }, 'requests-per-second': { type: 'string' } } })
const file = positionals[0]
if (file === undefined) throw new Error('usage: bench/profile-summary.ts <file.cpuprofile> [--from NAME] [--requests-per-second N]')

/** Parts of a request, each recognised by a frame: the function's name and the file it is in. */
const PARTS: Array<[string, (frame: CallFrame) => boolean]> = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['SQLite: revocation feed poll', (f) => f.functionName === 'revocationsSince' || f.url.includes('/revocation-sync.')],
  ['SQLite: rotation', (f) => f.url.includes('/sqlite-session-store.')],
  ['SQLite: reading the user', (f) => /\/(sqlite-user-store|user-directory)\./.test(f.url)],
  ['signing the two JWS (@fastify/jwt, fast-jwt)', (f) => f.url.includes('/tokens/jws.') && f.functionName === 'sign'],
  ['encrypting the two JWE (AES-256-GCM)', (f) => f.functionName === 'encryptJwe'],
  ['verifying the presented token (decrypt, HMAC, claims)', (f) => /\/tokens\/(token-codec|jwe|jws|claims|base64url)\./.test(f.url)],
  ['writing the response (the kernel\'s writev)', (f) => f.functionName === 'writev' || f.functionName === 'writevGeneric'],
  ['cookies: reading and Set-Cookie headers', (f) => /@fastify\/cookie\/|\/cookie\/dist\/|\/http\/cookies\./.test(f.url)],
  ['rate limiting', (f) => /rate-limit/.test(f.url)],
  ['CSRF check', (f) => f.url.includes('/http/csrf.')],
  ['session service and routes, their own code', (f) => /\/(session|http|service)\/|\/src\/common\//.test(f.url) && !f.url.includes('node_modules')],
  ['Fastify: routing, hooks, reply', (f) => /node_modules\/(fastify|find-my-way|avvio|fast-json-stringify)\//.test(f.url)],
  ['Node\'s HTTP server: parsing, streams, headers', (f) => /^node:(_http_|internal\/streams|net|events|internal\/stream_base)/.test(f.url)]
]

const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
const parents = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)

function stackOf (id: number): CallFrame[] {
  const frames: CallFrame[] = []
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) frames.push((nodes.get(at) as ProfileNode).callFrame)
  return frames
}

function partOf (stack: CallFrame[]): string {
  for (const frame of stack) {
    for (const [part, recognises] of PARTS) if (recognises(frame)) return part
  }
  return 'other'
}

const spent = new Map<string, number>()
let loaded = false
let windowMicros = 0
profile.samples.forEach((sample, i) => {
  const stack = stackOf(sample)
  loaded ||= stack.some((frame) => frame.functionName === values.from)
  if (!loaded) return
  const micros = profile.timeDeltas[i] ?? 0
  windowMicros += micros
  const part = partOf(stack)
  spent.set(part, (spent.get(part) ?? 0) + micros)
})
if (!loaded) throw new Error(`no sample has ${values.from} on its stack: pass --from with a function of the loaded route`)

const idle = spent.get('idle') ?? 0
spent.delete('idle')
const busy = windowMicros - idle
const perSecond = values['requests-per-second'] === undefined ? undefined : Number(values['requests-per-second'])
process.stdout.write(`${(windowMicros / 1e6).toFixed(1)} s of load, busy ${(100 * busy / windowMicros).toFixed(0)}% of it\n`)
process.stdout.write(`| part | share of busy time |${perSecond === undefined ? '' : ' CPU µs per request |'}\n|---|---|${perSecond === undefined ? '' : '---|'}\n`)
for (const [part, micros] of [...spent].sort((a, b) => b[1] - a[1])) {
  // µs per request: this part's CPU over the window, spread over the requests served in it.
  const perRequest = perSecond === undefined ? '' : ` ${(micros / (perSecond * windowMicros / 1e6)).toFixed(0)} |`
  process.stdout.write(`| ${part} | ${(100 * micros / busy).toFixed(1)}% |${perRequest}\n`)
}
