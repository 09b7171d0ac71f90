/**
 * 128-bit random ids (token `jti`, session family id) from the operating system's CSPRNG, drawn from a
 * 4 KiB pool refilled by one `randomFillSync` call per 256 ids. A `randomBytes(16)` call per id cost about 5%
 * of a refresh (it mints three ids; CPU profile of `npm run bench`); the bytes are the same CSPRNG output
 * either way, and each byte of the pool is handed out once.
 */
import { randomFillSync } from 'node:crypto'

const ID_BYTES = 16
const POOL_BYTES = 4096
const pool = Buffer.allocUnsafeSlow(POOL_BYTES)
let offset = POOL_BYTES

/** 128 random bits, base64url (22 characters): RFC 7519 §4.1.7; docs/security.md rule 9. */
export function newId (): string {
  if (offset + ID_BYTES > POOL_BYTES) {
    randomFillSync(pool)
    offset = 0
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES)
  offset += ID_BYTES
  return id
}
