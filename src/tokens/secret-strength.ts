/** How strong a master secret looks: every key is derived from it, so a guessable one breaks everything. */

export const MIN_SECRET_BYTES = 32
const PLACEHOLDER = /change.?me|example|placeholder|replace|your.?secret|^(secret|password)/i

/**
 * 'short' under 32 bytes; 'weak' when it reads like a placeholder or has too little variety to be random
 * (fewer than 10 distinct bytes, or one character repeated); undefined when it looks fine.
 */
export function assessSecret (secret: Buffer): 'short' | 'weak' | undefined {
  if (secret.length < MIN_SECRET_BYTES) return 'short'
  if (new Set(secret).size < 10 || PLACEHOLDER.test(secret.toString('latin1'))) return 'weak'
  return undefined
}
