/** Milliseconds since the Unix epoch. Injected everywhere time matters, so tests move time instead of sleeping. */
export type Clock = () => number

export const systemClock: Clock = () => Date.now()

export function seconds (clock: Clock): number {
  return Math.floor(clock() / 1000)
}
