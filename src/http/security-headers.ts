/**
 * Response headers for a JSON API that no browser should render, frame or sniff (OWASP Secure Headers, REST
 * Security cheat sheet; ASVS 3.4). HSTS only when cookies are Secure and the request arrived over TLS (directly
 * or, with TRUST_PROXY, through a proxy saying so): sent over plain http it would be ignored anyway, and a
 * development setup on http must not pin a host to https (ASVS 3.4.1; docs/security.md rule 19).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin'
})

/** One year; subdomains of the service's host included (it serves no plain-http subdomains). */
export const HSTS = 'max-age=31536000; includeSubDomains'

export type SecurityHeadersHook = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => void

/** Sets the headers on a reply; HSTS when `cookieSecure` and the request came over https. */
export function setSecurityHeaders (request: FastifyRequest, reply: FastifyReply, cookieSecure: boolean): void {
  reply.headers(SECURITY_HEADERS)
  if (cookieSecure && request.protocol === 'https') reply.header('strict-transport-security', HSTS)
}

/** An onSend hook setting the security headers on every response of its context, errors included. */
export function securityHeaders (cookieSecure: boolean): SecurityHeadersHook {
  return function securityHeaders (request, reply, payload, done) {
    setSecurityHeaders(request, reply, cookieSecure)
    done(null, payload)
  }
}
