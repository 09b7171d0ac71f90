/**
 * An attacker who knows the secret (tests do), for building hostile tokens that reach the exact check they
 * target. Keys are derived here the way src/tokens/keys.ts and docs/token-format.md describe, independently
 * of src/tokens: HKDF-SHA256, empty salt, info `stateless-session/v1 <purpose>`. Both layers are hand-rolled
 * on node:crypto so every byte can be bent (IV and tag lengths, headers, compression, encodings).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'

export type Kind = 'access' | 'refresh'

const LABEL = 'stateless-session/v1'
export const TYP: Record<Kind, string> = { access: 'at+jwt', refresh: 'rt+jwt' }

function hkdf (secret: string, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), info, length))
}

export function fingerprint (secret: string): string {
  return hkdf(secret, `${LABEL} key-id`, 6).toString('base64url')
}

export function signingKey (secret: string, kind: Kind): Buffer {
  return hkdf(secret, `${LABEL} ${kind} jws`, 32)
}

export function encryptionKey (secret: string, kind: Kind, epoch: number): Buffer {
  return hkdf(secret, `${LABEL} ${kind} jwe ${epoch}`, 32)
}

export function epochOf (iatSeconds: number): number {
  return Math.floor(iatSeconds / 3600)
}

/** base64url of a string, a Buffer, or the JSON of anything else. */
export function b64 (value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('base64url')
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url')
}

export function unb64 (segment: string): Buffer {
  return Buffer.from(segment, 'base64url')
}

/** A compact JWS: header and payload as given (objects become JSON, strings are used verbatim). */
export function jws (header: unknown, payload: unknown, key: Buffer | null, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`
  if (key === null) return `${input}.`
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`
}

export interface JweOptions {
  /** The protected header: an object (JSON), or a string used as the raw JSON text. */
  header: unknown
  key: Buffer
  ivBytes?: number
  tagBytes?: number
  /** Content of the encrypted-key segment (empty for `dir`). */
  encryptedKey?: string
  /** Deflate the plaintext first (what `zip: "DEF"` announces). */
  deflate?: boolean
}

/** A compact JWE (AES-256-GCM, AAD = the protected header segment), every parameter bendable. */
export function jwe (plaintext: string | Buffer, options: JweOptions): string {
  const protectedHeader = b64(options.header)
  const iv = randomBytes(options.ivBytes ?? 12)
  const cipher = createCipheriv('aes-256-gcm', options.key, iv, { authTagLength: options.tagBytes ?? 16 })
  cipher.setAAD(Buffer.from(protectedHeader, 'ascii'))
  const input = Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext, 'utf8')
  const ciphertext = Buffer.concat([cipher.update(options.deflate === true ? deflateRawSync(input) : input), cipher.final()])
  return [protectedHeader, options.encryptedKey ?? '', iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

export interface Opened {
  outer: Record<string, unknown>
  inner: string
  innerHeader: Record<string, unknown>
  claims: Record<string, unknown>
}

export interface TokenOptions {
  /** Replaces members of the JWE header (undefined deletes one). */
  outer?: Record<string, unknown>
  /** Replaces members of the JWS header (undefined deletes one). */
  inner?: Record<string, unknown>
  /** Signing key of the inner JWS; default the real one of the kind. null: unsigned. */
  signWith?: Buffer | null
  hash?: 'sha256' | 'sha384' | 'sha512'
  /** Encryption key; default the real one of the kind for the kid's epoch. */
  encryptWith?: Buffer
  /** The inner payload verbatim (a string), instead of the claims' JSON. */
  rawPayload?: string
  /** The whole plaintext of the JWE verbatim, instead of a JWS. */
  plaintext?: string
  /** Key epoch of the kid and encryption key; default the one of a numeric `iat`. */
  epoch?: number
  jweOptions?: Partial<JweOptions>
}

function merge (base: Record<string, unknown>, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const result = { ...base }
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) Reflect.deleteProperty(result, key)
    else result[key] = value
  }
  return result
}

/** Opens and mints tokens of a service whose secret is known. */
export class Forge {
  constructor (readonly secret: string) {}

  kid (epoch: number, secret = this.secret): string {
    return `${fingerprint(secret)}.${epoch}`
  }

  /** Decrypts one of the service's tokens with the derived keys (no check beyond the GCM tag). */
  open (token: string, kind: Kind): Opened {
    const [header = '', , iv = '', ciphertext = '', tag = ''] = token.split('.')
    const outer = JSON.parse(unb64(header).toString('utf8')) as Record<string, unknown>
    const epoch = Number(String(outer['kid']).split('.')[1])
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey(this.secret, kind, epoch), unb64(iv), { authTagLength: 16 })
    decipher.setAAD(Buffer.from(header, 'ascii'))
    decipher.setAuthTag(unb64(tag))
    const inner = Buffer.concat([decipher.update(unb64(ciphertext)), decipher.final()]).toString('utf8')
    const [innerHeader = '', payload = ''] = inner.split('.')
    return {
      outer,
      inner,
      innerHeader: JSON.parse(unb64(innerHeader).toString('utf8')) as Record<string, unknown>,
      claims: JSON.parse(unb64(payload).toString('utf8')) as Record<string, unknown>
    }
  }

  /** A nested token of `kind` with these claims, built like the service builds them unless told otherwise. */
  token (kind: Kind, claims: Record<string, unknown>, options: TokenOptions = {}): string {
    const iat = claims['iat']
    const epoch = options.epoch ?? epochOf(typeof iat === 'number' ? iat : 0)
    const innerHeader = merge({ alg: 'HS256', typ: TYP[kind] }, options.inner)
    const signWith = options.signWith === undefined ? signingKey(this.secret, kind) : options.signWith
    const plaintext = options.plaintext ?? jws(innerHeader, options.rawPayload ?? claims, signWith, options.hash)
    const outer = merge({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid: this.kid(epoch) }, options.outer)
    return jwe(plaintext, {
      header: outer,
      key: options.encryptWith ?? encryptionKey(this.secret, kind, epoch),
      ...options.jweOptions
    })
  }
}

/** Flips the lowest bit of the last character's 6-bit value: same bytes for a decoder that ignores padding bits. */
export function alterTrailingBits (segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = segment.at(-1) as string
  return segment.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] as string)
}

/** Replaces segment `index` of a dotted token. */
export function withSegment (token: string, index: number, replace: (segment: string) => string): string {
  const segments = token.split('.')
  segments[index] = replace(segments[index] as string)
  return segments.join('.')
}
