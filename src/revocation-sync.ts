/**
 * Keeps the in-memory denylist equal to the store's revocation log. On start it loads every live revocation
 * (before the service reports ready); then it polls for revocations written by others: the users CLI, or
 * other processes on the same SQLite file. Revocations made by this process are applied at once by the
 * service, and come back through the poll harmlessly (adding is idempotent). It also purges entries whose
 * tokens have all expired, in memory and in the store.
 */
import type { FastifyBaseLogger } from 'fastify'
import { seconds, type Clock } from './clock.js'
import type { Denylist } from './denylist.js'
import type { SessionStore } from './stores/session-store.js'

export interface RevocationSyncOptions {
  store: SessionStore
  denylist: Denylist
  clock: Clock
  log: FastifyBaseLogger
  /** Clock skew tolerated on `exp`: an entry is dropped only `leeway` seconds after its tokens expire. */
  leeway: number
  pollIntervalMs: number
  purgeIntervalMs: number
}

export class RevocationSync {
  readonly #o: RevocationSyncOptions
  #cursor = '0'
  #timers: NodeJS.Timeout[] = []
  #polling: Promise<void> | undefined

  constructor (options: RevocationSyncOptions) {
    this.#o = options
  }

  /** Loads every live revocation, then starts polling and purging. */
  async start (): Promise<void> {
    const { store, denylist, clock } = this.#o
    const batch = await store.loadRevocations(seconds(clock) - this.#o.leeway)
    denylist.addAll(batch.revocations)
    this.#cursor = batch.cursor
    // poll() and purge() log their failures and never reject.
    const poll = setInterval(() => { this.poll() }, this.#o.pollIntervalMs)
    const purge = setInterval(() => { this.purge() }, this.#o.purgeIntervalMs)
    poll.unref()
    purge.unref()
    this.#timers = [poll, purge]
  }

  /** Applies revocations recorded since the last poll. Failures are logged and retried at the next tick. */
  async poll (): Promise<void> {
    // One poll at a time: a slow store must not pile up overlapping reads.
    this.#polling ??= this.#pollNow().finally(() => { this.#polling = undefined })
    await this.#polling
  }

  async #pollNow (): Promise<void> {
    try {
      for (;;) {
        const batch = await this.#o.store.revocationsSince(this.#cursor)
        this.#o.denylist.addAll(batch.revocations)
        if (batch.cursor === this.#cursor) return
        this.#cursor = batch.cursor
      }
    } catch (error) {
      this.#o.log.error({ err: error }, 'revocation poll failed; retrying')
    }
  }

  async purge (): Promise<void> {
    const before = seconds(this.#o.clock) - this.#o.leeway
    this.#o.denylist.purge(before)
    try {
      await this.#o.store.purgeExpired(before)
    } catch (error) {
      this.#o.log.error({ err: error }, 'purging expired sessions failed; retrying')
    }
  }

  stop (): void {
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers = []
  }
}
