/**
 * CORS for front ends on other origins of the same site (docs/security.md rule 18; ASVS 3.4.2). @fastify/cors with
 * an origin function: an `Origin` in the allowlist is echoed back exactly, with credentials; any other origin,
 * `null` included, gets no CORS header at all (its preflight gets 404), never `*` and never a reflection.
 * `Vary: Origin` is on every answer, allowed or not, so a cache never hands one origin's answer to another.
 */
import type { FastifyCorsOptions } from '@fastify/cors'

export function corsOptions (trustedOrigins: ReadonlySet<string>): FastifyCorsOptions {
  return {
    origin (origin, callback) {
      callback(null, origin !== undefined && trustedOrigins.has(origin) ? origin : false)
    },
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['content-type'],
    // The browser client corrects for clock skew from Date, and a 429 says when to retry in Retry-After.
    exposedHeaders: ['date', 'retry-after'],
    maxAge: 600,
    // A strict preflight failure answers a text/plain body; every error here is JSON with a code instead.
    strictPreflight: false
  }
}
