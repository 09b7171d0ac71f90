/**
 * The floor's work on one access token: only what our token format makes unavoidable, written as tightly as
 * we could. One AES-256-GCM decrypt of the JWE (its five segments found by position, the tag pinned to 16
 * bytes), one HMAC-SHA256 of the inner JWS with a constant-time compare, and one `JSON.parse` of its claims.
 * No format checks beyond the layout, no claims rules, no denylist, no cache.
 *
 * Shared by the floor contender (bench/contenders/floor.ts, per request), the in-process table
 * (bench/in-process.ts) and the stage harness (bench/cold-stages.ts), so the three measure the same code.
 */
import { createDecipheriv, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto'

export interface FloorKeys {
  /** The AES-256-GCM key of the token's `kid`. */
  encryption: KeyObject
  /** The HMAC-SHA256 key of access tokens. */
  signing: KeyObject
}

/**
 * The claims of `token` (a compact JWE: header..iv(16).ciphertext.tag(22)), or undefined when its tag or
 * signature does not verify. `aad` is the header segment's ASCII bytes: a server keeps it per header, a loop
 * may leave it to be made here.
 */
export function openFloorToken (token: string, keys: FloorKeys, aad?: Buffer): Record<string, unknown> | undefined {
  const headerEnd = token.indexOf('.')
  const tagStart = token.length - 22
  const decipher = createDecipheriv('aes-256-gcm', keys.encryption, Buffer.from(token.slice(headerEnd + 2, headerEnd + 18), 'base64url'), { authTagLength: 16 })
  decipher.setAAD(aad ?? Buffer.from(token.slice(0, headerEnd), 'ascii'))
  decipher.setAuthTag(Buffer.from(token.slice(tagStart), 'base64url'))
  let jws: string
  try {
    jws = decipher.update(Buffer.from(token.slice(headerEnd + 19, tagStart - 1), 'base64url'), undefined, 'latin1') + decipher.final('latin1')
  } catch {
    return undefined
  }
  const signatureAt = jws.length - 43
  const mac = createHmac('sha256', keys.signing).update(jws.slice(0, signatureAt - 1), 'latin1').digest()
  if (!timingSafeEqual(mac, Buffer.from(jws.slice(signatureAt), 'base64url'))) return undefined
  return JSON.parse(Buffer.from(jws.slice(jws.indexOf('.') + 1, signatureAt - 1), 'base64url').toString()) as Record<string, unknown>
}
