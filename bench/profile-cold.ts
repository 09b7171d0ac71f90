/**
 * A cold access check in a loop, for profiling by hand (not part of `npm run bench`):
 *
 *   node --import tsx --cpu-prof --cpu-prof-dir=bench-profiles bench/profile-cold.ts [count]
 *   node --import tsx bench/profile-cold.ts [count]     (prints CPU µs per token: median and fastest pass)
 *
 * Mints <count> access tokens (default 40,000), then checks each once on a fresh instance.
 */
import { randomBytes } from 'node:crypto'
import { ours } from './our-code.js'
import { median, mintAccessTokens, sessionInstance } from './shared.js'

const count = Number(process.argv[2] ?? 40_000)
const secret = randomBytes(32).toString('base64url')
const tokens = await mintAccessTokens(secret, count)
// CPU time of this thread (process.cpuUsage), not wall time: on a shared machine waiting for a core does not
// count. Each pass on a fresh instance, so every token is new to it (the cache admits a token on its second check).
const passes: number[] = []
for (let pass = 0; pass < 5; pass++) {
  const app = await sessionInstance(secret, new ours.MemorySessionStore())
  const start = process.cpuUsage()
  for (const token of tokens) {
    if (typeof app.sessions.authenticate(token) === 'string') throw new Error('refused')
  }
  const used = process.cpuUsage(start)
  passes.push((used.user + used.system) / tokens.length)
  await app.close()
}
process.stdout.write(`token length ${(tokens[0] as string).length}; CPU µs per cold check over ${tokens.length} tokens, 5 passes: median ${median(passes).toFixed(2)}, fastest ${Math.min(...passes).toFixed(2)}\n`)
