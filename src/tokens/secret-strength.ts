/** How strong a master secret looks: every key is derived from it, so a guessable one breaks everything. */

export const MIN_SECRET_BYTES = 32
const PLACEHOLDER = /change.?me|example|placeholder|replace|your.?secret|^(secret|password)/i
/** Length of the byte runs compared to find a repeated pattern. */
const RUN = 8

/**
 * True when some run of 8 bytes occurs twice: a pattern repeated (`0123456789` four times, a word typed twice).
 * In random data of any usual encoding that is practically impossible (base64: 64^8 possible runs; the chance
 * of a repeat in a 64-character secret is about 10^-11).
 */
function hasRepeatedRun (secret: Buffer): boolean {
  const seen = new Set<string>()
  for (let i = 0; i + RUN <= secret.length; i++) {
    const run = secret.toString('latin1', i, i + RUN)
    if (seen.has(run)) return true
    seen.add(run)
  }
  return false
}

/**
 * 'short' under 32 bytes; 'weak' when it reads like a placeholder or has too little variety to be random
 * (fewer than 10 distinct bytes, or a run of 8 bytes repeated); undefined when it looks fine.
 */
export function assessSecret (secret: Buffer): 'short' | 'weak' | undefined {
  if (secret.length < MIN_SECRET_BYTES) return 'short'
  if (new Set(secret).size < 10 || hasRepeatedRun(secret) || PLACEHOLDER.test(secret.toString('latin1'))) return 'weak'
  return undefined
}
