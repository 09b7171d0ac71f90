/**
 * A cold access check in a loop, for profiling by hand (not part of `npm run bench`):
 *
 *   node --import tsx --cpu-prof --cpu-prof-dir=bench-profiles bench/profile-cold.ts [count]
 *   node --import tsx bench/profile-cold.ts [count]     (prints µs per token: median and fastest chunk)
 *
 * Mints <count> access tokens (default 40,000), then checks each once on a fresh instance.
 */
import Fastify from 'fastify'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import sessionPlugin, { MemorySessionStore } from '../src/index.js'
import { median, MintOnlyStore } from './shared.js'

const count = Number(process.argv[2] ?? 40_000)
const secret = randomBytes(32).toString('base64url')
async function instance (store: MemorySessionStore): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify({ logger: false })
  await app.register(sessionPlugin, { secret, store, verifyCredentials: async (u) => ({ id: u, username: u, roles: ['member'] }), rateLimit: false })
  await app.ready()
  return app
}
const minter = await instance(new MintOnlyStore())
const tokens: string[] = []
for (let i = 0; i < count; i++) {
  const r = await minter.sessions.login(`user-${i}`, 'x', { userAgent: 'bench', address: null })
  if (r.status !== 'issued') throw new Error('login failed')
  tokens.push(r.session.access.token)
}
const app = await instance(new MemorySessionStore())
const chunks: number[] = []
for (let i = 0; i + 500 <= tokens.length; i += 500) {
  const start = performance.now()
  for (let j = i; j < i + 500; j++) {
    if (typeof app.sessions.authenticate(tokens[j] as string) === 'string') throw new Error('refused')
  }
  chunks.push((performance.now() - start) * 2)
}
process.stdout.write(`token length ${(tokens[0] as string).length}; µs per token: median chunk ${median(chunks).toFixed(2)}, fastest ${Math.min(...chunks).toFixed(2)}\n`)
await app.close()
await minter.close()
