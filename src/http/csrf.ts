/**
 * Refusal of cross-site requests to state-changing routes (docs/security.md rule 17; OWASP CSRF cheat sheet:
 * Fetch Metadata, then verifying the origin with standard headers). SameSite cookies are the first line;
 * this is the second, and the only one for browsers that send no SameSite-aware cookies or for sibling
 * subdomains, which count as "same site" for cookies.
 *
 * The order of the checks:
 * 1. `Origin: null` (sandboxed frames, opaque redirects, file: pages) is refused.
 * 2. `Sec-Fetch-Site`, when present, decides: `same-origin` and `none` (typed by the user) pass, `same-site`
 *    passes only with an `Origin` in the trusted list, `cross-site` and anything unknown fail. A trusted
 *    origin on another site is still refused: the session cookies are SameSite, so it could not hold a
 *    session anyway.
 * 3. Without Fetch Metadata (older browsers), `Origin` must be the service's own origin or a trusted one.
 * 4. Neither header: not a browser (curl, a server); nothing a CSRF attack can forge, so it passes.
 *
 * The service's own origin is `publicOrigin` when configured, else `protocol://host` of the request. Host
 * comes from the client, but only a non-browser can choose it freely, and a non-browser can simply leave
 * `Origin` out; X-Forwarded-Host and -Proto count only from trusted proxies (TRUST_PROXY).
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { audit } from './audit.js'
import { CsrfRejectedError } from '../common/errors.js'

export interface OriginPolicy {
  /** The exact origin browsers use for this service; undefined derives it from each request. */
  publicOrigin: string | undefined
  /** Exact origins of same-site front ends allowed to call state-changing routes. */
  trustedOrigins: ReadonlySet<string>
}

export type OriginVerdict = 'ok' | 'null-origin' | 'cross-site' | 'same-site-untrusted' | 'unknown-fetch-site' | 'foreign-origin'

/** Methods a CSRF attack gains nothing from (RFC 9110 §9.2.1): the hook lets them through. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const MAX_LOGGED = 200
/** DNS labels (punycode for IDNs), or a bracketed IPv6 literal: no wildcard or other character a browser never sends. */
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$|^\[[0-9a-f:.]+\]$/

function derivedOrigin (request: FastifyRequest): string | undefined {
  try {
    return new URL(`${request.protocol}://${request.host}`).origin
  } catch {
    return undefined
  }
}

/** Why a request is cross-site, or 'ok'. No I/O. */
export function checkOrigin (request: FastifyRequest, policy: OriginPolicy): OriginVerdict {
  const origin = request.headers.origin
  if (origin === 'null') return 'null-origin'
  const site = request.headers['sec-fetch-site']
  if (site !== undefined) {
    switch (site) {
      case 'same-origin':
      case 'none':
        return 'ok'
      case 'same-site':
        return origin !== undefined && policy.trustedOrigins.has(origin) ? 'ok' : 'same-site-untrusted'
      case 'cross-site':
        return 'cross-site'
      default:
        return 'unknown-fetch-site'
    }
  }
  if (origin === undefined) return 'ok'
  if (policy.trustedOrigins.has(origin) || origin === (policy.publicOrigin ?? derivedOrigin(request))) return 'ok'
  return 'foreign-origin'
}

function clip (value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value.slice(0, MAX_LOGGED) : undefined
}

export type CsrfProtection = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/**
 * An onRequest (or preHandler) hook refusing cross-site requests with 403 ERR_CSRF_REJECTED and an audit
 * line, before any body is read. GET, HEAD and OPTIONS pass, so it can also be added app-wide.
 */
export function csrfProtection (policy: OriginPolicy, sessionOf: (request: FastifyRequest) => { id: string, user: { id: string } } | null): CsrfProtection {
  return function csrfProtection (request, _reply, done) {
    const verdict = SAFE_METHODS.has(request.method) ? 'ok' : checkOrigin(request, policy)
    if (verdict === 'ok') {
      done()
      return
    }
    audit(request.log, 'csrf.rejected', {
      reason: verdict,
      method: request.method,
      route: request.routeOptions.url,
      origin: clip(request.headers.origin),
      fetchSite: clip(request.headers['sec-fetch-site']),
      userId: sessionOf(request)?.user.id,
      familyId: sessionOf(request)?.id
    })
    done(new CsrfRejectedError())
  }
}

/**
 * The canonical form of a configured origin, or undefined when `value` is not one: `scheme://host[:port]`
 * exactly as browsers send it in `Origin` (lower-case host, no default port, no path or trailing slash).
 */
export function canonicalOrigin (value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== value || !HOST.test(url.hostname)) return undefined
  return value
}
