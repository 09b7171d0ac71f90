/** Polls a condition until it holds: for effects that travel over the network (never for expiry: use ManualClock). */
import { setTimeout as sleep } from 'node:timers/promises'

export async function waitFor<T> (what: string, probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 10_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (accept(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)})`)
    await sleep(everyMs)
  }
}
