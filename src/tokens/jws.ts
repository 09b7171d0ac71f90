/**
 * The inner, signed layer: a JWS (HS256). Signed by @fastify/jwt (fast-jwt underneath), one namespace per
 * token kind and secret, in an encapsulated child context: an embedding app that uses @fastify/jwt for its
 * own tokens never sees ours, and ours never see its options.
 *
 * Verified by hand on node:crypto (HMAC-SHA256 and a constant-time compare) rather than by fast-jwt, for two
 * reasons. Cost, measured in-process (one core, distinct tokens, median µs per token): this switch alone took
 * the whole cold access check from 17.3 to 15.4 µs; the inner layer by itself costs 6.5 µs with fast-jwt's
 * verifier and 5.1 µs here (`npm run bench` measures the whole check today). Strictness: fast-jwt accepts a
 * `kid` or other extra header members, `typ` in capitals or with `application/`, and altered trailing bits
 * in the signature (several spellings of one token); this parser accepts three segments of canonical base64url, a 32-byte signature, and a header of
 * exactly `alg: HS256` and the kind's `typ` (docs/security.md rule 1, RFC 8725 §3.1, §3.11). Our own header is
 * recognised by its exact bytes, and the signature is checked before any payload JSON is parsed.
 * jose stays the interoperability oracle (test/tokens/jose-interop.test.ts, both directions).
 */
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { decodeJsonObject, isCanonicalBase64url } from './base64url.js'
import type { KeyRing, TokenKind } from './keys.js'

export const JWS_TYP: Record<TokenKind, string> = { access: 'at+jwt', refresh: 'rt+jwt' }

/** The header segment we write (docs/token-format.md), recognised without parsing it. */
const OUR_HEADER: Record<TokenKind, string> = {
  access: Buffer.from(JSON.stringify({ alg: 'HS256', typ: JWS_TYP.access })).toString('base64url'),
  refresh: Buffer.from(JSON.stringify({ alg: 'HS256', typ: JWS_TYP.refresh })).toString('base64url')
}

/** Three segments of base64url characters, the last one the 43 characters of a 32-byte HMAC-SHA256. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/
const SIGNATURE_CHARS = 43

export interface Jws {
  /** Signs `claims` with the current secret's key for `kind`; `typ` goes in the JOSE header (RFC 8725 §3.11). */
  sign: (kind: TokenKind, claims: object) => string
  /** The payload if signature, algorithm and `typ` hold under the named secret's key for `kind`, else undefined. */
  verify: (kind: TokenKind, fingerprint: string, token: string) => Record<string, unknown> | undefined
}

interface JwtNamespace {
  sign: (payload: object) => string
}

/**
 * A header other than our exact bytes (another writer may order the members differently) is parsed: it must
 * be a JSON object with exactly two members, `alg: "HS256"` and the `typ` of the kind.
 */
function isAcceptedHeader (segment: string, kind: TokenKind): boolean {
  if (segment === OUR_HEADER[kind]) return true
  const header = isCanonicalBase64url(segment) ? decodeJsonObject(segment) : undefined
  if (header === undefined) return false
  return Object.keys(header).length === 2 && header['alg'] === 'HS256' && header['typ'] === JWS_TYP[kind]
}

/** Verifies a compact HS256 JWS of `kind` under `key`; the payload object, or undefined. */
export function verifyJws (token: string, kind: TokenKind, key: KeyObject): Record<string, unknown> | undefined {
  if (!COMPACT_JWS.test(token)) return undefined
  const headerEnd = token.indexOf('.')
  const payloadEnd = token.length - SIGNATURE_CHARS - 1
  const payloadSegment = token.slice(headerEnd + 1, payloadEnd)
  const signature = token.slice(payloadEnd + 1)
  if (!isAcceptedHeader(token.slice(0, headerEnd), kind) || !isCanonicalBase64url(payloadSegment) || !isCanonicalBase64url(signature)) {
    return undefined
  }
  // The pattern above admits only ASCII, so latin1 gives the same bytes as UTF-8, without the UTF-8 encoder.
  const expected = createHmac('sha256', key).update(token.slice(0, payloadEnd), 'latin1').digest()
  // Both are 32 bytes: 43 canonical base64url characters always decode to 32.
  if (!timingSafeEqual(Buffer.from(signature, 'base64url'), expected)) return undefined
  return decodeJsonObject(payloadSegment)
}

/** Registers one @fastify/jwt namespace per (kind, secret) in a child context for signing; returns sign/verify. */
export async function registerJws (fastify: FastifyInstance, ring: KeyRing): Promise<Jws> {
  const namespaces = new Map<string, JwtNamespace>()
  await fastify.register(async function sessionJws (child) {
    for (const entry of ring.entries) {
      for (const kind of ['access', 'refresh'] as const) {
        const namespace = `${kind}:${entry.fingerprint}`
        await child.register(fastifyJwt, {
          namespace,
          decoratorName: 'sessionJwsPayload',
          secret: entry.signing[kind],
          // Every claim, `iat` included, comes from us: fast-jwt keeps a given `iat` and adds nothing.
          sign: { algorithm: 'HS256', header: { alg: 'HS256', typ: JWS_TYP[kind] } }
        })
        namespaces.set(namespace, (child.jwt as unknown as Record<string, JwtNamespace>)[namespace] as JwtNamespace)
      }
    }
  })
  const verifyKeys = new Map<string, Record<TokenKind, KeyObject>>()
  for (const entry of ring.entries) {
    verifyKeys.set(entry.fingerprint, { access: createSecretKey(entry.signing.access), refresh: createSecretKey(entry.signing.refresh) })
  }
  const current = ring.current.fingerprint
  return {
    sign (kind, claims) {
      return (namespaces.get(`${kind}:${current}`) as JwtNamespace).sign(claims)
    },
    verify (kind, fingerprint, token) {
      // The fingerprint comes from the key ring, whose every entry has keys here.
      return verifyJws(token, kind, (verifyKeys.get(fingerprint) as Record<TokenKind, KeyObject>)[kind])
    }
  }
}
