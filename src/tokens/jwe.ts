/**
 * Compact JWE with exactly one profile: `alg: dir`, `enc: A256GCM`, `cty: JWT`, a `kid` (RFC 7516).
 *
 * Written on node:crypto rather than jose because jose goes through WebCrypto on Node and costs about 12x more
 * for the same AES-GCM decrypt (118 µs vs 9.9 µs per token, measured in-process on the project's test machine; docs/benchmarks.md), and decrypting is on the
 * per-request path. jose stays the interoperability oracle: test/tokens/jose-interop.test.ts proves both
 * directions. The parser is deliberately stricter than jose (docs/security.md rules 1-3): compact form only, five
 * segments of canonical base64url, an empty encrypted-key segment, a 12-byte IV, a 16-byte tag, and a header
 * holding exactly the four members we write (so no `zip`, `crit`, `jku`, `jwk`, `x5u`, `x5c`, ...).
 */
import { createCipheriv, createDecipheriv, randomFillSync, type KeyObject } from 'node:crypto'
import { decodeJsonObject, isCanonicalBase64url } from './base64url.js'

/** Tokens must fit a cookie, whose name + value browsers cap at 4096 bytes (RFC 6265bis §5.6). */
export const MAX_COMPACT_LENGTH = 4096

const COMPACT_JWE = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/
const HEADER_MEMBERS = new Set(['alg', 'enc', 'cty', 'kid'])
const IV_BYTES = 12
const TAG_BYTES = 16
const IV_CHARS = 16
const TAG_CHARS = 22

export interface ParsedJwe {
  /** The encoded protected header as ASCII bytes: the additional authenticated data (RFC 7516 §5.1). */
  aad: Buffer
  kid: string
  iv: Buffer
  ciphertext: Buffer
  tag: Buffer
}

const headersByKid = new Map<string, string>()

/** The protected header we write, members in this order (docs/token-format.md); memoised per kid. */
export function jweHeader (kid: string): string {
  let header = headersByKid.get(kid)
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid })).toString('base64url')
    if (headersByKid.size >= 1024) headersByKid.clear()
    headersByKid.set(kid, header)
  }
  return header
}

interface KnownHeader {
  kid: string
  aad: Buffer
}

/**
 * Validated header segments, so the JSON of our own headers is parsed (and their AAD bytes made) once, not on
 * every request. Shared between requests, so the AAD buffer is only ever read.
 */
const knownHeaders = new Map<string, KnownHeader>()

function parseProtectedHeader (segment: string): KnownHeader | undefined {
  const known = knownHeaders.get(segment)
  if (known !== undefined) return known
  const header = isCanonicalBase64url(segment) ? decodeJsonObject(segment) : undefined
  if (header === undefined) return undefined
  const members = Object.keys(header)
  if (members.length !== HEADER_MEMBERS.size || !members.every((m) => HEADER_MEMBERS.has(m))) return undefined
  const { alg, enc, cty, kid } = header
  if (alg !== 'dir' || enc !== 'A256GCM' || cty !== 'JWT' || typeof kid !== 'string' || kid.length > 64) return undefined
  if (knownHeaders.size >= 1024) knownHeaders.clear()
  const parsed = { kid, aad: Buffer.from(segment, 'ascii') }
  knownHeaders.set(segment, parsed)
  return parsed
}

/** Splits and checks a compact JWE without any crypto; undefined for anything outside the profile. */
export function parseCompactJwe (token: string): ParsedJwe | undefined {
  if (token.length > MAX_COMPACT_LENGTH || !COMPACT_JWE.test(token)) return undefined
  // The pattern fixed the layout: header, empty key, 16-character IV, ciphertext, 22-character tag.
  const headerEnd = token.indexOf('.')
  const tagStart = token.length - TAG_CHARS
  const iv = token.slice(headerEnd + 2, headerEnd + 2 + IV_CHARS)
  const ciphertext = token.slice(headerEnd + 3 + IV_CHARS, tagStart - 1)
  const tag = token.slice(tagStart)
  const header = parseProtectedHeader(token.slice(0, headerEnd))
  if (header === undefined || !isCanonicalBase64url(ciphertext) || !isCanonicalBase64url(tag)) return undefined
  return {
    aad: header.aad,
    kid: header.kid,
    iv: Buffer.from(iv, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: Buffer.from(tag, 'base64url')
  }
}

/**
 * Decrypts a parsed JWE; undefined when the tag does not verify (wrong key or tampered bytes). The plaintext
 * is decoded as latin1, one character per byte: a JWS is ASCII, and any other byte becomes a character the
 * JWS parser refuses, without the cost of UTF-8 decoding.
 */
export function decryptJwe (jwe: ParsedJwe, key: KeyObject): string | undefined {
  // authTagLength pins the tag to 16 bytes: Node 20 otherwise accepts truncated GCM tags.
  const decipher = createDecipheriv('aes-256-gcm', key, jwe.iv, { authTagLength: TAG_BYTES })
  decipher.setAAD(jwe.aad)
  decipher.setAuthTag(jwe.tag)
  const head = decipher.update(jwe.ciphertext, undefined, 'latin1')
  try {
    // Nothing from the plaintext is used before final() has checked the tag.
    return head + decipher.final('latin1')
  } catch {
    return undefined
  }
}

const ivPool = Buffer.alloc(IV_BYTES * 256)
let ivOffset = ivPool.length

/** A fresh random 96-bit IV; random bytes are drawn 256 IVs at a time, each IV used once. */
function nextIv (): Buffer {
  if (ivOffset === ivPool.length) {
    randomFillSync(ivPool)
    ivOffset = 0
  }
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES))
  ivOffset += IV_BYTES
  return iv
}

/** Encrypts `plaintext` (the inner JWS) into a compact JWE under `key`, named by `kid`. */
export function encryptJwe (plaintext: string, kid: string, key: KeyObject): string {
  const protectedHeader = jweHeader(kid)
  const iv = nextIv()
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(protectedHeader, 'ascii'))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return `${protectedHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`
}
