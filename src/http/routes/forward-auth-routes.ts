/**
 * Forward-auth for reverse proxies (docs/proxies.md): nginx `auth_request`, Traefik `forwardAuth`, Caddy
 * `forward_auth` and Envoy `ext_authz` ask `<prefix>/verify` (Envoy: `<prefix>/envoy/<original path>`) before
 * passing a request on, and copy our identity headers to the upstream.
 *
 * What the proxies need, and why:
 * - 200 to allow, never 202/204 (Envoy allows on 200 only), with identity headers and a signed assertion.
 * - 401 (no, expired or revoked session) and 403 (the policy refuses) pass through every proxy; any other
 *   status becomes a 500 in nginx and a 403 in Envoy, so a hostile cookie is a 401 like any other, and 503 is
 *   only the documented stale-revocations case.
 * - No Set-Cookie and no refresh here: proxies copy cookies unreliably, and parallel sub-requests refreshing
 *   one session would trip reuse detection. The browser refreshes through `<prefix>/refresh`.
 * - The original request (for the login redirect and the assertion's audience) is read from `X-Original-*`
 *   (nginx) or `X-Forwarded-*` (Traefik, Caddy) only when the socket peer is a trusted proxy.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ForbiddenError, ForwardAuthPolicyError, ForwardAuthRequestError, SESSION_INVALID_BODY, SessionStoreStaleError } from '../../common/errors.js'
import type { IdentityAssertions } from '../../session/identity-assertions.js'
import type { SessionInfo } from '../../session/session-info.js'
import { errorHandlerFor } from '../error-handler.js'
import { HOST_PATTERN, type IdentityHeader } from '../forward-auth-options.js'
import { ROLE_PATTERN } from '../plugin-options.js'
import { SECURITY_HEADERS } from '../security-headers.js'
import { ErrorBody } from '../../wire/schemas.js'

export interface ForwardAuthRoutesOptions {
  authPrefix: string
  identityHeaders: readonly IdentityHeader[]
  /** Lower-case header name of the signed assertion, or undefined for none. */
  assertionHeader: string | undefined
  assertions: IdentityAssertions
  loginUrl: string | undefined
  redirectHosts: readonly string[]
  /** COOKIE_SECURE: with Secure cookies, `rd` carries no plain-http URL (except to a loopback host). */
  cookieSecure: boolean
  isTrustedProxy: (address: string) => boolean
  isStoreUnavailable: (error: unknown) => boolean
  /** The metrics' onResponse hook (answers by route, method and status class), when metrics are on. */
  onResponse?: ((request: FastifyRequest, reply: FastifyReply, done: () => void) => void) | undefined
}

/** The request the proxy is asking about, as far as a trusted proxy told us. */
interface OriginalRequest {
  /** Upper-case method, when known. */
  method: string | undefined
  url: URL | undefined
  /** nginx cannot pass a redirect from its sub-request: it gets 401 + Location for its `error_page`. */
  nginx: boolean
}

const ROLE = new RegExp(ROLE_PATTERN)
const METHOD = /^[A-Za-z]{1,16}$/
const MAX_POLICY_ROLES = 32
const INVALID_TOKEN = 'Bearer error="invalid_token"'
const SESSION_INVALID_JSON = JSON.stringify(SESSION_INVALID_BODY)
const ENVOY_BODY_LIMIT = 1 << 20

/** The roles a `?role=a,b` policy accepts (any of them), or undefined for "any session". */
export function parsePolicy (query: unknown): ReadonlySet<string> | undefined {
  const params = (query ?? {}) as Record<string, unknown>
  let roles: Set<string> | undefined
  for (const [key, value] of Object.entries(params)) {
    if (key !== 'role') throw new ForwardAuthPolicyError(`unknown parameter "${key.slice(0, 32)}" (only role=)`)
    const values = Array.isArray(value) ? value : [value]
    roles ??= new Set()
    for (const entry of values) {
      for (const role of String(entry).split(',')) {
        if (!ROLE.test(role)) throw new ForwardAuthPolicyError('role= takes role names (letters, digits, ._:-), separated by commas')
        roles.add(role)
      }
    }
  }
  if (roles !== undefined && roles.size > MAX_POLICY_ROLES) throw new ForwardAuthPolicyError(`at most ${MAX_POLICY_ROLES} roles`)
  return roles
}

function header (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

function requestMethod (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (!METHOD.test(value)) throw new ForwardAuthRequestError('the original method is not a method name')
  return value.toUpperCase()
}

function absoluteUrl (value: string, what: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ForwardAuthRequestError(`${what} is not an absolute URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ForwardAuthRequestError(`${what} is not an http(s) URL`)
  return url
}

function forwardedUrl (proto: string | undefined, host: string | undefined, uri: string): URL {
  const scheme = proto ?? 'http'
  if (scheme !== 'http' && scheme !== 'https') throw new ForwardAuthRequestError('X-Forwarded-Proto must be http or https')
  if (host === undefined || !HOST_PATTERN.test(host.toLowerCase())) throw new ForwardAuthRequestError('the forwarded host is missing or not a host name')
  if (!uri.startsWith('/')) throw new ForwardAuthRequestError('the forwarded URI must be a path starting with /')
  // A path may begin with `//` (Caddy passes a request for `//x` on as it came). Joined after the host we were
  // told, it stays a path: the host ends at the first `/`. Checked anyway, so no path can ever name a host.
  const origin = absoluteUrl(`${scheme}://${host}`, 'the forwarded URL').origin
  const url = absoluteUrl(`${origin}${uri}`, 'the forwarded URL')
  if (url.origin !== origin) throw new ForwardAuthRequestError('the forwarded URI must be a path')
  return url
}

/** What nginx (`X-Original-URL`, `-Method`) or Traefik and Caddy (`X-Forwarded-*`) said, from trusted proxies only. */
function originalOf (request: FastifyRequest, trusted: boolean): OriginalRequest {
  if (!trusted) return { method: undefined, url: undefined, nginx: false }
  const originalUrl = header(request, 'x-original-url')
  const uri = header(request, 'x-forwarded-uri')
  // Each proxy sets one family and passes the client's other headers on: a client behind Caddy or Traefik
  // can add X-Original-URL, one behind nginx X-Forwarded-Uri. Both at once cannot be told apart: refused.
  if (originalUrl !== undefined && uri !== undefined) throw new ForwardAuthRequestError('both X-Original-URL and X-Forwarded-Uri were sent; the proxy must remove the one it does not set (docs/proxies.md)')
  if (originalUrl !== undefined) {
    return { method: requestMethod(header(request, 'x-original-method')), url: absoluteUrl(originalUrl, 'X-Original-URL'), nginx: true }
  }
  const method = requestMethod(header(request, 'x-forwarded-method'))
  if (uri === undefined) return { method, url: undefined, nginx: false }
  return { method, url: forwardedUrl(header(request, 'x-forwarded-proto'), header(request, 'x-forwarded-host'), uri), nginx: false }
}

/** Header values are printable ASCII: anything else, and `%` (and `,` inside a list item), percent-encoded as UTF-8. */
function headerValue (value: string, listItem = false): string {
  if (/^[\x20-\x24\x26-\x2b\x2d-\x7e]*$/.test(value)) return value
  return value.replace(/[\ud800-\udbff][\udc00-\udfff]|[^\x20-\x7e]|%|,/g, (c) => {
    if (c === ',' && !listItem) return c
    try {
      return encodeURIComponent(c)
    } catch {
      // A lone surrogate (possible in a JSON string) has no UTF-8 form.
      return '%EF%BF%BD'
    }
  })
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/

function identityValue (session: SessionInfo, field: IdentityHeader['field']): string {
  switch (field) {
    case 'username': return headerValue(session.user.username)
    case 'id': return headerValue(session.user.id)
    case 'session': return headerValue(session.id)
    case 'email': return EMAIL.test(session.user.username) ? headerValue(session.user.username) : ''
    case 'roles': return session.user.roles.map((role) => headerValue(role, true)).join(',')
  }
}

/**
 * Hosts browsers treat as secure over plain http (they send Secure cookies there; W3C Secure Contexts,
 * "potentially trustworthy"), and whose traffic never leaves the machine. The URL parser has already made
 * every IPv4 spelling dotted-decimal and IPv6 compressed.
 */
function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

function isBrowserNavigation (request: FastifyRequest): boolean {
  const accept = header(request, 'accept')
  return accept !== undefined && accept.includes('text/html') && header(request, 'x-requested-with')?.toLowerCase() !== 'xmlhttprequest'
}

export async function forwardAuthRoutes (fastify: FastifyInstance, options: ForwardAuthRoutesOptions): Promise<void> {
  const { authPrefix: prefix, identityHeaders, assertionHeader, assertions, loginUrl, isTrustedProxy } = options
  const { sessionOf, isStale } = fastify.statelessSession
  fastify.setErrorHandler(errorHandlerFor(options.isStoreUnavailable))
  // Counted like the auth routes' answers: a proxy's checks failing (503 on a stale view, 400 for a bad
  // configuration) must show in the 5xx alert and the dashboards too.
  if (options.onResponse !== undefined) fastify.addHook('onResponse', options.onResponse)
  const redirectExact = new Set(options.redirectHosts.filter((h) => !h.startsWith('.')))
  const redirectSuffixes = options.redirectHosts.filter((h) => h.startsWith('.'))

  // With Secure cookies the service is used over https: sending the browser back to an http:// URL would be a
  // downgrade (and the Secure session cookie would not reach it, so the user would land on the login page
  // again). Loopback hosts are the exception, as browsers treat them (development behind a local proxy).
  const schemeAllowed = (url: URL): boolean => url.protocol === 'https:' || !options.cookieSecure || isLoopback(url.hostname)
  const mayReturnTo = (url: URL): boolean => schemeAllowed(url) &&
    (redirectExact.has(url.host) || redirectSuffixes.some((suffix) => url.hostname.endsWith(suffix)))

  const loginLocation = (original: OriginalRequest): string => {
    const login = loginUrl as string
    if (original.url === undefined || !mayReturnTo(original.url)) return login
    // Userinfo never goes back into a link: `https://evil.example@app.example.com/` reads like another site.
    const target = new URL(original.url.href)
    target.username = ''
    target.password = ''
    return `${login}${login.includes('?') ? '&' : '?'}rd=${encodeURIComponent(target.href)}`
  }

  const audienceOf = (request: FastifyRequest, original: OriginalRequest): string => {
    if (original.url !== undefined) return original.url.host
    const host = header(request, 'host')?.toLowerCase()
    if (host === undefined || !HOST_PATTERN.test(host)) throw new ForwardAuthRequestError('the host being accessed is unknown')
    return host
  }

  const answer = (request: FastifyRequest, reply: FastifyReply, original: OriginalRequest, policy: ReadonlySet<string> | undefined): FastifyReply => {
    if (isStale(request)) throw new SessionStoreStaleError()
    const session = sessionOf(request)
    if (session === null) {
      reply.header('www-authenticate', INVALID_TOKEN)
      if (loginUrl !== undefined && isBrowserNavigation(request)) {
        const location = loginLocation(original)
        // nginx drops a sub-request's redirect: its `error_page 401` reads Location and redirects itself.
        if (original.nginx) return reply.code(401).header('location', location).type('application/json; charset=utf-8').send(SESSION_INVALID_JSON)
        const method = original.method ?? request.method
        return reply.code(method === 'GET' || method === 'HEAD' ? 302 : 303).header('location', location).send()
      }
      return reply.code(401).type('application/json; charset=utf-8').send(SESSION_INVALID_JSON)
    }
    if (policy !== undefined && !session.user.roles.some((role) => policy.has(role))) {
      throw new ForbiddenError([...policy].join(' or '))
    }
    for (const { name, field } of identityHeaders) reply.header(name, identityValue(session, field))
    if (assertionHeader !== undefined) reply.header(assertionHeader, assertions.assertionFor(session, audienceOf(request, original)))
    return reply.code(200).send()
  }

  const verifyPath = `${prefix}/verify`
  const identityResponseHeaders = Object.fromEntries(identityHeaders.map(({ name }) => [name, { type: 'string' }]))
  const responses = {
    200: {
      description: 'A valid session the policy accepts: identity headers and the signed assertion, no body',
      headers: { ...identityResponseHeaders, ...(assertionHeader === undefined ? {} : { [assertionHeader]: { type: 'string', description: 'Signed identity (EdDSA JWS), docs/upstreams.md' } }) },
      type: 'null'
    },
    302: { description: 'Browser navigation without a session (LOGIN_URL set): to the login page', type: 'null' },
    303: { description: 'As 302, for an original method other than GET or HEAD', type: 'null' },
    400: ErrorBody,
    401: ErrorBody,
    403: ErrorBody,
    503: ErrorBody
  }

  fastify.get(verifyPath, {
    schema: {
      summary: 'Forward-auth check for nginx, Traefik and Caddy: 200 with identity headers, 401, 403 (policy ?role=a,b), or a login redirect',
      tags: ['forward-auth'],
      querystring: { type: 'object', properties: { role: { description: 'Comma-separated roles (string); the session must hold one of them. Repeated, the lists add up.' } } },
      response: responses
    }
  }, async function verify (request, reply) {
    reply.header('cache-control', 'no-store')
    return answer(request, reply, originalOf(request, isTrustedProxy(request.socket.remoteAddress ?? '')), parsePolicy(request.query))
  })

  await fastify.register(async function envoyScope (scope) {
    // Envoy's check request carries the original method and may carry a body: any type is accepted and
    // dropped unread.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { bodyLimit: ENVOY_BODY_LIMIT }, (_request, payload, done) => {
      payload.resume()
      payload.on('end', () => { done(null, undefined) })
    })
    const envoyPrefix = `${prefix}/envoy`
    const envoyVerify = async function envoyVerify (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
      reply.header('cache-control', 'no-store')
      const trusted = isTrustedProxy(request.socket.remoteAddress ?? '')
      const original: OriginalRequest = {
        method: request.method,
        url: trusted ? forwardedUrl(header(request, 'x-forwarded-proto'), header(request, 'host'), request.url.slice(envoyPrefix.length)) : undefined,
        nginx: false
      }
      // The query string is the original request's, not a policy: Envoy cannot set one per route (docs/proxies.md).
      return answer(request, reply, original, undefined)
    }
    // Every method Fastify knows: OpenAPI describes the standard ones, the others (WebDAV...) are answered alike.
    const described = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']
    scope.route({
      method: described,
      url: `${envoyPrefix}/*`,
      schema: {
        summary: 'Forward-auth check for Envoy ext_authz (HTTP service, path_prefix <prefix>/envoy): the original method and path; 200 exactly to allow',
        tags: ['forward-auth'],
        response: responses
      },
      handler: envoyVerify
    })
    scope.route({ method: scope.supportedMethods.filter((m) => !described.includes(m)), url: `${envoyPrefix}/*`, schema: { hide: true }, handler: envoyVerify })
  })

  fastify.get('/.well-known/jwks.json', {
    schema: {
      summary: 'Public keys of the signed identity assertion (current and previous session secrets)',
      tags: ['forward-auth'],
      response: {
        200: {
          type: 'object',
          properties: {
            keys: { type: 'array', items: { type: 'object', properties: { kty: { type: 'string' }, crv: { type: 'string' }, x: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } } } }
          }
        }
      }
    }
  }, async function jwks (_request, reply) {
    // Cacheable on purpose (upstreams fetch it), but, like every answer, never sniffed, framed or rendered.
    return reply.headers(SECURITY_HEADERS).header('cache-control', 'public, max-age=300').type('application/jwk-set+json').send(JSON.stringify(assertions.jwks))
  })
}
