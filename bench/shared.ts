/** Pieces several benchmark processes use. */
import { MemorySessionStore, type FamilyRecord } from '../src/index.js'

/** The built-in user the service contender creates, and the credentials the login load posts. */
export const BENCH_CREDENTIALS = { username: 'bench-user', password: 'correct horse battery staple' }

/** Minting hundreds of thousands of sessions must not keep them all: an access check never asks the store. */
export class MintOnlyStore extends MemorySessionStore {
  override async createFamily (_family: FamilyRecord, _mark: string): Promise<boolean> {
    return true
  }
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
