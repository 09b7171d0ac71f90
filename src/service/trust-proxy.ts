/**
 * TRUST_PROXY: which socket peers are reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and
 * X-Forwarded-Host are believed (docs/security.md rule 20). Anyone else's forwarded headers change nothing: the
 * client IP is the socket peer, the protocol is the socket's. The RFC 7239 `Forwarded` header is never read
 * (Fastify does not; configure the proxy to send X-Forwarded-For).
 *
 * Fastify's `trustProxy` accepts a function, and the app is built before its configuration is read, so
 * app.ts hands Fastify a function that consults the compiled list once it exists.
 */
import proxyAddr from '@fastify/proxy-addr'
import { InvalidOptionError } from '../common/errors.js'

export type TrustProxy = (address: string, hop: number) => boolean

/** A prefix of length zero (`/0`, or the netmask 0.0.0.0) trusts every address. */
const EVERYTHING = /\/(0+|0+\.0+\.0+\.0+)$/

/** Compiles the TRUST_PROXY entries (IPs, CIDRs, `loopback`, `linklocal`, `uniquelocal`); throws on a bad one. */
export function compileTrustProxy (entries: readonly string[]): TrustProxy {
  const list = entries.map((entry) => entry.trim()).filter((entry) => entry !== '')
  if (list.length === 0) return () => false
  for (const entry of list) {
    if (EVERYTHING.test(entry)) {
      throw new InvalidOptionError(`TRUST_PROXY entry "${entry}" trusts every address, so any client could choose its own IP: list your proxies' addresses or ranges`)
    }
  }
  try {
    return proxyAddr.compile(list)
  } catch (error) {
    throw new InvalidOptionError(`TRUST_PROXY must list IP addresses, CIDR ranges, loopback, linklocal or uniquelocal (${(error as Error).message})`)
  }
}
