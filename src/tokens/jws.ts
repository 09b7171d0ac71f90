/**
 * The inner, signed layer: a JWS (HS256) signed and verified by @fastify/jwt (fast-jwt underneath), one
 * namespace per token kind and secret, so each verifier knows exactly one key and one algorithm
 * (RFC 8725 §3.1). The namespaces live in an encapsulated child context: an embedding app that uses
 * @fastify/jwt for its own tokens never sees ours, and ours never see its options.
 */
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import type { KeyRing, TokenKind } from './keys.js'

export const JWS_TYP: Record<TokenKind, string> = { access: 'at+jwt', refresh: 'rt+jwt' }

export interface Jws {
  /** Signs `claims` with the current secret's key for `kind`; `typ` goes in the JOSE header (RFC 8725 §3.11). */
  sign: (kind: TokenKind, claims: object) => string
  /** Verifies signature, algorithm and `typ` under the named secret; throws on any failure. */
  verify: (kind: TokenKind, fingerprint: string, token: string) => Record<string, unknown>
}

interface JwtNamespace {
  sign: (payload: object) => string
  verify: (token: string) => Record<string, unknown>
}

/** Registers one @fastify/jwt namespace per (kind, secret) in a child context and returns sign/verify. */
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
          sign: { algorithm: 'HS256', header: { alg: 'HS256', typ: JWS_TYP[kind] } },
          verify: {
            algorithms: ['HS256'],
            checkTyp: JWS_TYP[kind],
            // Times are checked by claims.ts against the injected clock, with our own stricter rules.
            ignoreExpiration: true,
            ignoreNotBefore: true,
            cache: false,
            errorCacheTTL: -1
          }
        })
        namespaces.set(namespace, (child.jwt as unknown as Record<string, JwtNamespace>)[namespace] as JwtNamespace)
      }
    }
  })
  const current = ring.current.fingerprint
  return {
    sign (kind, claims) {
      return (namespaces.get(`${kind}:${current}`) as JwtNamespace).sign(claims)
    },
    verify (kind, fingerprint, token) {
      // The fingerprint comes from the key ring, whose every entry has a namespace.
      return (namespaces.get(`${kind}:${fingerprint}`) as JwtNamespace).verify(token)
    }
  }
}
