/**
 * The two session cookies (docs/security.md rules 14-16). Access: `__Host-session`, Path=/, SameSite=Lax, sent with
 * every request to the site. Refresh: `__Secure-refresh`, SameSite=Strict, Path limited to the auth routes.
 * Both HttpOnly and Secure; `cookieSecure: false` drops Secure and with it the prefixes, which require it.
 */
import type { FastifyReply } from 'fastify'
import type { IssuedToken } from '../session/session-service.js'

/** Browsers drop a cookie whose name + value exceed 4096 bytes without a word (RFC 6265bis §5.6). */
export const MAX_COOKIE_BYTES = 4096

export interface CookiePolicy {
  access: { name: string, path: string, sameSite: 'lax', secure: boolean, httpOnly: true, domain?: string }
  refresh: { name: string, path: string, sameSite: 'strict', secure: boolean, httpOnly: true }
}

/**
 * With a `domain` (COOKIE_DOMAIN) the access cookie is shared with every subdomain: a `__Host-` cookie cannot
 * carry Domain, so it is `__Secure-session` then (docs/security.md, "Cookie domain"). The refresh cookie
 * always stays on the auth host.
 */
export function cookiePolicy (secure: boolean, authPrefix: string, domain?: string): CookiePolicy {
  const access: CookiePolicy['access'] = domain === undefined
    ? { name: secure ? '__Host-session' : 'session', path: '/', sameSite: 'lax', secure, httpOnly: true }
    : { name: secure ? '__Secure-session' : 'session', path: '/', sameSite: 'lax', secure, httpOnly: true, domain }
  return {
    access,
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

/**
 * True when the cookie named exactly `name` is sent more than once. A planted duplicate (a sibling subdomain
 * can set a `Domain=` cookie of the same name) must not make us clear the genuine cookie: the browser would
 * delete ours and keep the planted one, logging the user out at every refresh.
 */
export function isCookieRepeated (header: string | undefined, name: string): boolean {
  if (header === undefined) return false
  let seen = 0
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq !== -1 && pair.slice(0, eq).trim() === name && ++seen === 2) return true
  }
  return false
}

/**
 * Sets both cookies. Their size was checked when the tokens were minted (SessionService, against
 * MAX_COOKIE_BYTES minus the longest name), before anything was recorded.
 */
export function setSessionCookies (reply: FastifyReply, policy: CookiePolicy, access: IssuedToken, refresh: IssuedToken): void {
  const { name: accessName, ...accessAttributes } = policy.access
  const { name: refreshName, ...refreshAttributes } = policy.refresh
  // Max-Age is never longer than the token lives.
  reply.setCookie(accessName, access.token, { ...accessAttributes, maxAge: access.expiresIn })
  reply.setCookie(refreshName, refresh.token, { ...refreshAttributes, maxAge: refresh.expiresIn })
}

/** Clears both cookies with the same name, path and attributes they were set with. */
export function clearSessionCookies (reply: FastifyReply, policy: CookiePolicy): void {
  const { name: accessName, ...accessAttributes } = policy.access
  const { name: refreshName, ...refreshAttributes } = policy.refresh
  reply.clearCookie(accessName, accessAttributes)
  reply.clearCookie(refreshName, refreshAttributes)
}
