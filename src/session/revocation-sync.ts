/**
 * Keeps the in-memory denylist equal to the store's revocation log. On start it loads every live revocation
 * (before the service reports ready); then it follows revocations written by others (other instances, the
 * users CLI, other processes on the same SQLite file):
 * - push, when the store offers `waitForRevocations` (Redis): a blocking read that returns as soon as a
 *   revocation is recorded anywhere, so other instances enforce it within milliseconds;
 * - poll otherwise: `revocationsSince` every `pollIntervalMs`; and, when the store can tell cheaply whether
 *   another process committed (`changedByOthers`: SQLite's `PRAGMA data_version`), that question every
 *   `changeCheckIntervalMs` (10 ms), reading the log only when the answer is yes. So a revocation by another
 *   process on the same SQLite file (a worker, the users CLI) is enforced within about 10 ms.
 * Revocations made by this process are applied at once by the service, and come back through the log
 * harmlessly (adding is idempotent). It also purges entries whose tokens have all expired, in memory and in
 * the store.
 *
 * Freshness: the view is "confirmed" each time a read of the log comes back complete, as of the moment the
 * store answered (for a blocking read that came back empty, the end of its block: `#confirm`). With `maxStalenessMs`,
 * a view not confirmed for that long is `stale`, and the plugin then refuses to vouch for any session (503)
 * rather than accept a token that another instance may have revoked meanwhile. Once the store answers again
 * the sync reads everything it missed from its cursor first, and only then is the view fresh again.
 *
 * If the store lost its log (RevocationLogLostError: Redis restarted empty), the sync reloads what the store
 * now holds and keeps every revocation it already knew: nothing known is ever forgotten before it expires.
 */
import type { FastifyBaseLogger } from 'fastify'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { seconds, type Clock } from '../common/clock.js'
import type { Denylist } from './denylist.js'
import { RevocationLogLostError } from '../common/errors.js'
import type { RevocationFeedBatch, SessionStore } from '../stores/session-store.js'

export interface RevocationSyncOptions {
  store: SessionStore
  denylist: Denylist
  clock: Clock
  log: FastifyBaseLogger
  /** Clock skew tolerated on `exp`: an entry is dropped only `leeway` seconds after its tokens expire. */
  leeway: number
  pollIntervalMs: number
  purgeIntervalMs: number
  /** With a store offering `changedByOthers`: how often to ask it. Default 10. */
  changeCheckIntervalMs?: number
  /** A view not confirmed for longer than this is stale. 0: never stale (a local store). Default 0. */
  maxStalenessMs?: number
  /** Monotonic milliseconds, for freshness (not the token clock). Default `performance.now`. */
  monotonic?: () => number
}

export interface RevocationSyncStatus {
  /** How revocations of other instances arrive. */
  mode: 'push' | 'poll'
  stale: boolean
  /** Milliseconds since the view was last confirmed complete. */
  confirmedMsAgo: number
  /** Entries in the in-memory denylist. */
  denylistSize: number
  /** Times the store's log was found lost and reloaded since start. */
  logReloads: number
}

/** Delay before retrying a failed read: 50 ms doubling to at most 1 s. */
function backoff (failures: number): number {
  return Math.min(50 * 2 ** Math.min(failures - 1, 5), 1000)
}

export class RevocationSync {
  readonly #o: RevocationSyncOptions
  readonly #now: () => number
  readonly #maxStaleness: number
  readonly #abort = new AbortController()
  #cursor = '0'
  #confirmedAt = Number.NEGATIVE_INFINITY
  #reloads = 0
  #timers: NodeJS.Timeout[] = []
  #polling: Promise<void> | undefined
  #following: Promise<void> | undefined

  constructor (options: RevocationSyncOptions) {
    this.#o = options
    this.#now = options.monotonic ?? (() => performance.now())
    this.#maxStaleness = options.maxStalenessMs ?? 0
  }

  /** Loads every live revocation, then starts following the log and purging. Rejects if the load fails. */
  async start (): Promise<void> {
    await this.#load()
    const feed = this.#o.store.waitForRevocations
    if (feed !== undefined) {
      this.#following = this.#follow(feed.bind(this.#o.store))
    } else {
      // poll() never rejects: it logs its failures.
      const poll = setInterval(() => { this.poll() }, this.#o.pollIntervalMs)
      poll.unref()
      this.#timers.push(poll)
      const changed = this.#o.store.changedByOthers
      if (changed !== undefined) {
        const check = setInterval(() => { this.#pollIfChanged(changed.bind(this.#o.store)) }, this.#o.changeCheckIntervalMs ?? 10)
        check.unref()
        this.#timers.push(check)
      }
    }
    const purge = setInterval(() => { this.purge() }, this.#o.purgeIntervalMs)
    purge.unref()
    this.#timers.push(purge)
  }

  /** True when access checks must not rely on the view: not confirmed within `maxStalenessMs`. */
  get stale (): boolean {
    return this.#maxStaleness > 0 && this.#now() - this.#confirmedAt > this.#maxStaleness
  }

  status (): RevocationSyncStatus {
    const ago = this.#now() - this.#confirmedAt
    return {
      mode: this.#o.store.waitForRevocations === undefined ? 'poll' : 'push',
      // From the same reading as the lag, and the lag rounded up: a stale view never shows a lag at or under
      // the limit (`stale` is "more than maxStalenessMs ago").
      stale: this.#maxStaleness > 0 && ago > this.#maxStaleness,
      confirmedMsAgo: Math.ceil(ago),
      denylistSize: this.#o.denylist.size,
      logReloads: this.#reloads
    }
  }

  /** Everything the store holds now, added to what is known; the cursor restarts from there. */
  async #load (): Promise<void> {
    const startedAt = this.#now()
    const batch = await this.#o.store.loadRevocations(seconds(this.#o.clock) - this.#o.leeway)
    this.#o.denylist.addAll(batch.revocations)
    this.#cursor = batch.cursor
    this.#confirmedAt = startedAt
  }

  /**
   * The store lost its log: reload what it holds now, then write back what this instance knew and the store
   * no longer has, so instances started from now on learn it too. Sessions whose records were lost cannot
   * be refreshed any more (their users log in again).
   */
  async #reload (error: Error): Promise<void> {
    this.#o.log.error({ err: error }, 'the store lost its revocation log (Redis restarted without its data?): reloading and restoring the revocations this instance knows; sessions whose records were lost must log in again')
    const startedAt = this.#now()
    const now = seconds(this.#o.clock) - this.#o.leeway
    const held = await this.#o.store.loadRevocations(now)
    const present = new Set(held.revocations.map((r) => `${r.kind}:${r.id}`))
    const missing = this.#o.denylist.entries().filter((r) => r.expiresAt > now && !present.has(`${r.kind}:${r.id}`))
    if (missing.length > 0) await this.#o.store.restoreRevocations?.(missing)
    this.#o.denylist.addAll(held.revocations)
    this.#cursor = held.cursor
    this.#confirmedAt = startedAt
    this.#reloads++
  }

  /** Applies revocations recorded since the last poll. Failures are logged and retried at the next tick. */
  async poll (): Promise<void> {
    // One poll at a time: a slow store must not pile up overlapping reads.
    this.#polling ??= this.#pollNow().finally(() => { this.#polling = undefined })
    await this.#polling
  }

  #pollIfChanged (changed: () => boolean): void {
    // While a poll is in flight the question waits for the next tick: a commit it answers for may have come
    // after that poll's read, so its "yes" must start a poll of its own.
    if (this.#polling !== undefined) return
    let yes: boolean
    try {
      yes = changed()
    } catch {
      // The regular poll meets the same failure and logs it, once per pollIntervalMs rather than every 10 ms.
      return
    }
    if (yes) this.poll()
  }

  async #pollNow (): Promise<void> {
    const startedAt = this.#now()
    try {
      for (;;) {
        const batch = await this.#o.store.revocationsSince(this.#cursor)
        this.#o.denylist.addAll(batch.revocations)
        if (batch.cursor === this.#cursor) break
        this.#cursor = batch.cursor
      }
      this.#confirmedAt = startedAt
    } catch (error) {
      try {
        if (error instanceof RevocationLogLostError) await this.#reload(error)
        else throw error
      } catch (failure) {
        this.#o.log.error({ err: failure }, 'revocation poll failed; retrying')
      }
    }
  }

  /** The push loop: one blocking read after another until stop(). */
  async #follow (wait: NonNullable<SessionStore['waitForRevocations']>): Promise<void> {
    const signal = this.#abort.signal
    // A read that comes back empty confirms the view, so it must come back well within the staleness limit.
    const blockMs = Math.min(1000, this.#maxStaleness > 0 ? Math.floor(this.#maxStaleness / 4) : 1000)
    let failures = 0
    let failingSince = 0
    // After revocations came in, the next read barely waits: its answer confirms the view as of about now.
    let nextBlockMs = blockMs
    while (!signal.aborted) {
      const startedAt = this.#now()
      const waitedMs = nextBlockMs
      try {
        let batch: RevocationFeedBatch
        try {
          batch = await wait(this.#cursor, waitedMs, signal)
        } catch (error) {
          if (!(error instanceof RevocationLogLostError)) throw error
          await this.#reload(error)
          continue
        }
        this.#o.denylist.addAll(batch.revocations)
        this.#cursor = batch.cursor
        nextBlockMs = batch.revocations.length === 0 ? blockMs : 1
        if (batch.complete) this.#confirm(startedAt, waitedMs, batch.revocations.length === 0)
        if (failures > 0) {
          this.#o.log.info({ outageMs: Math.round(this.#now() - failingSince), caughtUp: batch.revocations.length }, 'revocation feed restored')
          failures = 0
        }
      } catch (error) {
        if (signal.aborted) break
        if (failures++ === 0) {
          failingSince = startedAt
          this.#o.log.error({ err: error }, 'revocation feed lost; retrying (sessions are refused once the view is stale)')
        } else {
          this.#o.log.debug({ err: error, failures }, 'revocation feed still down')
        }
        await sleep(backoff(failures), undefined, { signal }).catch(() => {})
      }
    }
  }

  /**
   * A complete answer of the feed proves the view complete as of the moment the store answered: some time
   * between the read's start and its return. An empty answer came once the read had waited its block (or
   * earlier, if the store returns early), so it confirms the view as of `startedAt + blockMs`, or of its
   * return if that is sooner: on an idle instance the lag then stays under one block (plus a round trip), not
   * two, and a reply held up on the way back (a stalled connection) still counts as old as it is. An answer
   * with revocations came as soon as they were recorded, at an unknown moment of the read: it confirms the
   * view as of the read's start, and the next read, which barely waits, confirms it as of about its return.
   */
  #confirm (startedAt: number, blockMs: number, empty: boolean): void {
    // Never earlier than the last confirmation: that came at the latest when the previous read returned.
    this.#confirmedAt = empty ? Math.min(this.#now(), startedAt + blockMs) : startedAt
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

  /** Stops polling, purging and the push loop (an in-flight read is abandoned). */
  async stop (): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers = []
    this.#abort.abort()
    await this.#following
  }
}
