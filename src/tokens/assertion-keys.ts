/**
 * Keys of the signed identity assertion (docs/upstreams.md): one Ed25519 key pair per session secret, derived
 * with HKDF-SHA256 under its own label, so every instance holding the same secrets signs with the same keys
 * and lists the same public keys, with nothing to set up or share. The public keys are published as a JWKS;
 * the private keys never leave the process.
 *
 * EdDSA (RFC 8037) because an Ed25519 private key is any 32 bytes (a derived seed), where an ES256 key needs a
 * scalar below the curve order; node:crypto signs it synchronously in tens of microseconds.
 */
import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, type KeyObject } from 'node:crypto'

const LABEL = 'stateless-session/v1 assertion ed25519'
/** PKCS#8 prefix of an Ed25519 private key (RFC 8410 §7): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** A public key as published in the JWKS (RFC 8037 §2). */
export interface Ed25519Jwk {
  kty: 'OKP'
  crv: 'Ed25519'
  x: string
  kid: string
  alg: 'EdDSA'
  use: 'sig'
}

export interface AssertionKey {
  kid: string
  privateKey: KeyObject
  jwk: Ed25519Jwk
}

/** The assertion key pair of a secret. Deterministic: the same secret gives the same key on every instance. */
export function deriveAssertionKey (secret: Buffer): AssertionKey {
  const seed = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), LABEL, 32))
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const x = (createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string }).x
  // The kid is the RFC 7638 thumbprint of the public key: public, stable, and says nothing about the secret.
  const kid = createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url')
  return { kid, privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' } }
}

/** The keys of the current secret (signs) and of the previous ones (still listed, for assertions in flight). */
export class AssertionKeys {
  readonly current: AssertionKey
  readonly jwks: { keys: Ed25519Jwk[] }

  constructor (current: Buffer, previous: readonly Buffer[]) {
    const keys = [current, ...previous].map(deriveAssertionKey)
    this.current = keys[0] as AssertionKey
    const unique = new Map(keys.map((key) => [key.kid, key.jwk]))
    this.jwks = Object.freeze({ keys: [...unique.values()] })
  }

  /** A compact JWS (`alg: EdDSA`) of the claims, signed with the current key. */
  sign (claims: Record<string, unknown>): string {
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: this.current.kid })).toString('base64url')
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url')
    const input = `${header}.${payload}`
    return `${input}.${sign(null, Buffer.from(input), this.current.privateKey).toString('base64url')}`
  }
}
