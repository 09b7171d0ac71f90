/** Pieces several benchmark processes use. */
import Fastify, { type FastifyInstance } from 'fastify'
import type { FamilyRecord, SessionStore } from '../src/index.js'
import { ours } from './our-code.js'

/** The built-in user the service contender creates, and the credentials the login load posts. */
export const BENCH_CREDENTIALS = { username: 'bench-user', password: 'correct horse battery staple' }

/** Minting hundreds of thousands of sessions must not keep them all: an access check never asks the store. */
export class MintOnlyStore extends ours.MemorySessionStore {
  override async createFamily (_family: FamilyRecord, _mark: string): Promise<boolean> {
    return true
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * The session plugin on a bare Fastify instance, ready, as the in-process measurements use it: every username
 * is a user of that id, no rate limits (one caller in a loop).
 */
export async function sessionInstance (secret: string, store: SessionStore): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(ours.default, { secret, store, verifyCredentials: async (username) => ({ id: username, username, roles: ['member'] }), rateLimit: false })
  await app.ready()
  return app
}

/** `count` access tokens of distinct sessions, minted under `secret` by a throwaway instance that keeps none. */
export async function mintAccessTokens (secret: string, count: number): Promise<string[]> {
  const minter = await sessionInstance(secret, new MintOnlyStore())
  const tokens: string[] = []
  for (let i = 0; i < count; i++) {
    const result = await minter.sessions.login(`user-${i}`, 'unused', { userAgent: 'bench', address: null })
    if (result.status !== 'issued') throw new Error('login failed')
    tokens.push(result.session.access.token)
  }
  await minter.close()
  return tokens
}
