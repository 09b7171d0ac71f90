/**
 * Request ids of the standalone service (`reqId` in every log line of a request): a random prefix drawn once
 * per app, so per worker of `WORKERS=n` and per start, then a counter: `k3f9q0a1bz-1`, `k3f9q0a1bz-2`, ...
 * Fastify's default (`req-1`, `req-2`, ...) starts again in every worker and at every restart, so the lines
 * of two workers, or of two runs, could not be told apart by id. Per request it costs what Fastify's does: a
 * counter and a string; the random bytes are drawn once. Ids never come from the client
 * (`requestIdHeader: false`): they go into audit lines.
 */
import { randomBytes } from 'node:crypto'

const PREFIX_BYTES = 6

/** 48 random bits, base 36: ten characters of [0-9a-z], so the `-` before the counter stands out. */
export function randomPrefix (): string {
  return randomBytes(PREFIX_BYTES).readUIntBE(0, PREFIX_BYTES).toString(36).padStart(10, '0')
}

/**
 * Fastify's `genReqId`: `<prefix>-<counter in base 36>`. The counter is a plain number: exact far beyond any
 * process's lifetime (2^53), and past 2^31 requests it only leaves V8's small-integer fast path.
 */
export function requestIds (prefix: string = randomPrefix()): () => string {
  let count = 0
  return function genReqId (): string {
    count++
    return `${prefix}-${count.toString(36)}`
  }
}
