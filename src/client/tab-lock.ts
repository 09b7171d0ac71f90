/**
 * One lock per browser, not per tab: the session client holds it around every request that can change the
 * session cookies (login, refresh, logout), so ten tabs refreshing at once rotate the refresh token one
 * after another instead of racing each other into reuse detection (docs/security.md rule 10).
 *
 * The Web Locks API does this exactly. Where it is missing (old browsers, and plain-http pages on hosts
 * other than localhost: it only exists in secure contexts) a BroadcastChannel election stands in. That
 * fallback is best effort: two tabs whose claims cross within `settleMs` can both proceed. The server's
 * grace window (REFRESH_REUSE_GRACE_SECONDS) makes that harmless: the same predecessor gets the same successor.
 *
 * Browser code: no Node.js imports.
 */

/** The part of the Web Locks API (`navigator.locks`) used here. */
export interface LockManagerLike {
  request: <T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<T>) => Promise<T>
}

/** The part of BroadcastChannel used here. */
export interface ChannelLike {
  postMessage: (message: unknown) => void
  addEventListener: (type: 'message', listener: (event: { data: unknown }) => void) => void
  close: () => void
}

export type ChannelFactory = (name: string) => ChannelLike

/** Runs `task` holding the lock. `waited` is true when another holder had to finish first. */
export type TabLock = <T>(task: (waited: boolean) => Promise<T>) => Promise<T>

export interface TabLockOptions {
  name: string
  locks?: LockManagerLike | undefined
  channel?: ChannelFactory | undefined
  now: () => number
  setTimeout: (callback: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
  /** Fallback only: how long a claim waits for competing claims. */
  settleMs?: number
  /** Fallback only: a claim older than this belongs to a tab that died holding it. */
  maxHoldMs?: number
}

/** The best lock this environment offers: Web Locks, else a BroadcastChannel election, else one tab's queue. */
export function createTabLock (options: TabLockOptions): { run: TabLock, close: () => void } {
  if (options.locks !== undefined) return { run: webLock(options.locks, options.name), close: () => {} }
  if (options.channel !== undefined) {
    const lock = new ChannelLock(options.channel(options.name), options)
    return { run: async (task) => await lock.run(task), close: () => { lock.close() } }
  }
  return { run: localLock(), close: () => {} }
}

function webLock (locks: LockManagerLike, name: string): TabLock {
  const busy = Symbol('busy')
  return async <T>(task: (waited: boolean) => Promise<T>): Promise<T> => {
    // Asking without waiting first tells whether another tab held it, which the caller wants to know.
    const first = await locks.request(name, { ifAvailable: true }, async (lock) => lock === null ? busy : await task(false))
    if (first !== busy) return first as T
    return await locks.request(name, {}, async () => await task(true))
  }
}

/** A queue inside one tab: the last resort where tabs cannot talk to each other. */
function localLock (): TabLock {
  let tail: Promise<unknown> = Promise.resolve()
  let queued = 0
  return async <T>(task: (waited: boolean) => Promise<T>): Promise<T> => {
    const waited = queued > 0
    queued++
    const run = tail.then(async () => await task(waited))
    // The next task starts when this one has settled, failed or not.
    tail = run.catch(() => {}).finally(() => { queued-- })
    return await run
  }
}

interface Claim { id: string, at: number }

function isClaim (value: unknown): value is Claim {
  const v = value as Partial<Claim> | null
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.at === 'number'
}

function earlier (a: Claim, b: Claim): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id)
}

function randomId (): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * Election over a BroadcastChannel: a tab posts a claim, listens for `settleMs`, and proceeds unless an
 * earlier claim is live; the loser waits for the winner's release (or for the claim to go stale).
 */
class ChannelLock {
  readonly #channel: ChannelLike
  readonly #o: TabLockOptions
  readonly #settleMs: number
  readonly #maxHoldMs: number
  /** Claims of other tabs, seen and not yet released. */
  readonly #others = new Map<string, Claim>()
  #wake: (() => void) | undefined
  #closed = false
  readonly #local: TabLock = localLock()

  constructor (channel: ChannelLike, options: TabLockOptions) {
    this.#channel = channel
    this.#o = options
    this.#settleMs = options.settleMs ?? 50
    this.#maxHoldMs = options.maxHoldMs ?? 10_000
    channel.addEventListener('message', (event) => { this.#receive(event.data) })
  }

  #receive (data: unknown): void {
    const message = data as { type?: unknown, claim?: unknown } | null
    if (typeof message !== 'object' || message === null || !isClaim(message.claim)) return
    if (message.type === 'claim') this.#others.set(message.claim.id, message.claim)
    else if (message.type === 'release') this.#others.delete(message.claim.id)
    else return
    this.#wake?.()
  }

  /** The earliest live claim of another tab (stale ones are dropped). */
  #earliestOther (): Claim | undefined {
    const stale = this.#o.now() - this.#maxHoldMs
    let first: Claim | undefined
    for (const claim of this.#others.values()) {
      if (claim.at < stale) this.#others.delete(claim.id)
      else if (first === undefined || earlier(claim, first)) first = claim
    }
    return first
  }

  /** Resolves after `ms`, or at the next message when `wakeOnMessage`. */
  async #pause (ms: number, wakeOnMessage: boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#o.clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const timer = this.#o.setTimeout(done, ms)
      if (wakeOnMessage) this.#wake = done
    })
  }

  async run<T>(task: (waited: boolean) => Promise<T>): Promise<T> {
    // Callers in this tab queue up first; the election is between tabs.
    return await this.#local(async (waitedHere) => {
      let waited = waitedHere
      for (;;) {
        while (this.#earliestOther() !== undefined) {
          waited = true
          await this.#pause(this.#maxHoldMs, true)
        }
        const claim = { id: randomId(), at: this.#o.now() }
        this.#post({ type: 'claim', claim })
        // Competing claims arrive while this one settles.
        await this.#pause(this.#settleMs, false)
        const rival = this.#earliestOther()
        if (rival === undefined || earlier(claim, rival)) {
          try {
            return await task(waited)
          } finally {
            this.#post({ type: 'release', claim })
          }
        }
        this.#post({ type: 'release', claim })
        waited = true
      }
    })
  }

  /** A closed channel throws; a task that outlives close() still finishes. */
  #post (message: { type: 'claim' | 'release', claim: Claim }): void {
    if (!this.#closed) this.#channel.postMessage(message)
  }

  close (): void {
    this.#closed = true
    this.#channel.close()
  }
}
