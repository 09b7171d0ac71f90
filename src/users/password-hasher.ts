/**
 * argon2id password hashing (@node-rs/argon2: prebuilt, runs off the event loop).
 * The default cost is OWASP's recommendation for argon2id: 19 MiB, 2 iterations, 1 lane (ASVS 11.4.2).
 */
import { hash, verify } from '@node-rs/argon2'

/** `Algorithm.Argon2id`: a const enum, which isolated modules cannot read. */
const ARGON2ID = 2

export interface PasswordHashCost {
  /** KiB of memory. */
  memoryCost: number
  timeCost: number
  parallelism: number
}

export const OWASP_ARGON2ID: Readonly<PasswordHashCost> = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 })

export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password-limits.js'

export class PasswordHasher {
  readonly #cost: PasswordHashCost
  #dummy: Promise<string> | undefined

  constructor (cost: PasswordHashCost = OWASP_ARGON2ID) {
    this.#cost = { ...cost }
  }

  async hash (password: string): Promise<string> {
    return await hash(password, { algorithm: ARGON2ID, ...this.#cost })
  }

  /** False for a wrong password or an unreadable hash; never throws for bad input. */
  async verify (passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password)
    } catch {
      return false
    }
  }

  /**
   * Spends the same time as a real check, for a user that does not exist, so response times do not tell
   * which usernames are registered (ASVS 6.3.8).
   */
  async verifyNothing (password: string): Promise<false> {
    this.#dummy ??= this.hash('dummy password that matches nothing')
    await this.verify(await this.#dummy, password)
    return false
  }
}
