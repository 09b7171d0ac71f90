/**
 * Base64url segments of compact JOSE tokens, read strictly: shared by both layers (jwe.ts, jws.ts).
 */

const BASE64URL_INDEX = new Int8Array(128).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) {
  BASE64URL_INDEX[c.charCodeAt(0)] = i
}

/**
 * Only the canonical encoding of a byte string is accepted: Node's decoder ignores non-zero trailing bits,
 * which would give one token several spellings (test/tokens/token-codec.test.ts "base64url canonical form").
 */
export function isCanonicalBase64url (segment: string): boolean {
  const rest = segment.length % 4
  if (rest === 0) return true
  if (rest === 1) return false
  const last = BASE64URL_INDEX[segment.charCodeAt(segment.length - 1)] as number
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0
}

/** The JSON object a segment encodes (headers, claims), or undefined for bad JSON or any other JSON value. */
export function decodeJsonObject (segment: string): Record<string, unknown> | undefined {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}
