/**
 * The two session cookies (SECURITY.md rules 14-16). Access: `__Host-session`, Path=/, SameSite=Lax, sent with
 * every request to the site. Refresh: `__Secure-refresh`, SameSite=Strict, Path limited to the auth routes.
 * Both HttpOnly and Secure; `cookieSecure: false` drops Secure and with it the prefixes, which require it.
 */
import type { FastifyReply } from 'fastify'
import { CookieTooLargeError } from './errors.js'

/** Browsers drop a cookie whose name + value exceed 4096 bytes without a word (RFC 6265bis §5.6). */
export const MAX_COOKIE_BYTES = 4096

export interface CookiePolicy {
  access: { name: string, path: string, sameSite: 'lax', secure: boolean, httpOnly: true }
  refresh: { name: string, path: string, sameSite: 'strict', secure: boolean, httpOnly: true }
}

export function cookiePolicy (secure: boolean, authPrefix: string): CookiePolicy {
  return {
    access: { name: secure ? '__Host-session' : 'session', path: '/', sameSite: 'lax', secure, httpOnly: true },
    refresh: { name: secure ? '__Secure-refresh' : 'refresh', path: authPrefix, sameSite: 'strict', secure, httpOnly: true }
  }
}

/**
 * The value of the cookie named exactly `name`, or undefined when it is absent, empty or present more than
 * once. @fastify/cookie takes the first of two same-named cookies; an attacker who can plant a cookie (a
 * sibling subdomain, an http page) could then choose which one we read, so two mean "no session" here.
 * Names are case-sensitive: `__host-session` is another cookie.
 */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined || !header.includes(name)) return undefined
  let value: string | undefined
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue
    if (value !== undefined) return undefined
    value = pair.slice(eq + 1).trim()
  }
  return value === '' ? undefined : value
}

export interface CookieToSet {
  value: string
  maxAge: number
}

function checkSize (name: string, value: string): void {
  const bytes = Buffer.byteLength(name) + Buffer.byteLength(value)
  if (bytes > MAX_COOKIE_BYTES) throw new CookieTooLargeError(bytes)
}

/** Sets both cookies, refusing (before anything is sent) any cookie a browser would silently drop. */
export function setSessionCookies (reply: FastifyReply, policy: CookiePolicy, access: CookieToSet, refresh: CookieToSet): void {
  checkSize(policy.access.name, access.value)
  checkSize(policy.refresh.name, refresh.value)
  const { name: accessName, ...accessAttributes } = policy.access
  const { name: refreshName, ...refreshAttributes } = policy.refresh
  reply.setCookie(accessName, access.value, { ...accessAttributes, maxAge: access.maxAge })
  reply.setCookie(refreshName, refresh.value, { ...refreshAttributes, maxAge: refresh.maxAge })
}

/** Clears both cookies with the same name, path and attributes they were set with. */
export function clearSessionCookies (reply: FastifyReply, policy: CookiePolicy): void {
  const { name: accessName, ...accessAttributes } = policy.access
  const { name: refreshName, ...refreshAttributes } = policy.refresh
  reply.clearCookie(accessName, accessAttributes)
  reply.clearCookie(refreshName, refreshAttributes)
}
