/**
 * Options of the forward-auth endpoints and of the signed identity (docs/proxies.md, docs/upstreams.md): their
 * schemas join the plugin's one options schema (plugin-options.ts), their checks live here.
 */
import { Type } from 'typebox'

/** A host name (lower case), optionally with a port; or an IPv6 literal in brackets. */
export const HOST_PATTERN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/

export const ForwardAuthOptionsSchema = {
  forwardAuth: Type.Boolean({ default: true, description: 'Serve the forward-auth endpoints for reverse proxies (`GET|HEAD <prefix>/verify`, `<prefix>/envoy/*`) and the public keys of the signed identity (`GET /.well-known/jwks.json`); docs/proxies.md. Needs `routes`.' }),
  identityHeaders: Type.Array(Type.String({ pattern: '^(oauth2-proxy|authelia|[A-Za-z0-9-]{1,64}=(username|id|email|roles|session))$' }), {
    default: ['oauth2-proxy', 'authelia'],
    maxItems: 32,
    description: 'Identity headers of a forward-auth 200: presets `oauth2-proxy` (`X-Auth-Request-User`, `-Email`, `-Groups`) and `authelia` (`Remote-User`, `Remote-Name`, `Remote-Groups`), or `Header-Name=field` with field `username`, `id`, `email`, `roles` or `session`. Every listed header is always sent (empty when there is no value; `email` is the username when it is an e-mail address). The proxy must strip them from client requests (docs/proxies.md).'
  }),
  assertionHeader: Type.String({ default: 'X-Session-Assertion', pattern: '^([A-Za-z0-9-]{1,64})?$', description: 'Header of a forward-auth 200 carrying the signed identity (an EdDSA JWS for the host being accessed; docs/upstreams.md). Empty: no assertion.' }),
  assertionTtlSeconds: Type.Integer({ default: 120, minimum: 10, maximum: 300, description: 'Lifetime of a signed identity assertion. One is reused for the same access token and host while more than half its lifetime is left.' }),
  loginUrl: Type.String({ default: '', maxLength: 2048, description: 'Login page that forward-auth sends browser navigations without a session to (`https://auth.example.com/login` or a path such as `/login`), with the original URL in `rd` when its host is in `redirectHosts`. Empty: always 401.' }),
  redirectHosts: Type.Array(Type.String({ pattern: '^\\.?[a-z0-9.:\\[\\]-]{1,253}$' }), { default: [], maxItems: 100, description: 'Hosts (`app.example.com`, with `:port` if not the default) whose URLs may be carried in the login redirect\'s `rd`; `.example.com` allows every subdomain of example.com. Other original URLs are left out (no open redirect), and so are plain `http://` ones while cookies are Secure (`cookieSecure`, COOKIE_SECURE), except to a loopback host (`localhost`, `127.0.0.1`, `[::1]`): a downgrade from https, where the Secure session cookie would not be sent.' }),
  cookieDomain: Type.String({ default: '', maxLength: 253, pattern: '^$|^\\.?[a-z0-9-]+(\\.[a-z0-9-]+)+$', description: 'Share the access cookie with every subdomain of this domain (`example.com`): it is then `__Secure-session` with `Domain=`, for one auth host serving several subdomains through forward-auth. Empty: a host-only `__Host-session`. Trade-off in docs/security.md.' })
}

/** Where an identity header's value comes from. */
export type IdentityField = 'username' | 'id' | 'email' | 'roles' | 'session'

export interface IdentityHeader { name: string, field: IdentityField }

const PRESETS: Readonly<Record<string, readonly IdentityHeader[]>> = {
  'oauth2-proxy': [
    { name: 'x-auth-request-user', field: 'username' },
    { name: 'x-auth-request-email', field: 'email' },
    { name: 'x-auth-request-groups', field: 'roles' }
  ],
  authelia: [
    { name: 'remote-user', field: 'username' },
    { name: 'remote-name', field: 'username' },
    { name: 'remote-groups', field: 'roles' }
  ]
}

/** The identity headers an `identityHeaders` list names (already checked against its schema), each once. */
export function identityHeaderList (entries: readonly string[]): IdentityHeader[] {
  const headers = new Map<string, IdentityHeader>()
  for (const entry of entries) {
    const preset = PRESETS[entry]
    if (preset !== undefined) {
      for (const header of preset) headers.set(header.name, header)
      continue
    }
    const eq = entry.indexOf('=')
    const name = entry.slice(0, eq).toLowerCase()
    headers.set(name, { name, field: entry.slice(eq + 1) as IdentityField })
  }
  return [...headers.values()]
}

/** A login URL: absolute http(s) without credentials, or a path on the proxy's host. Undefined if neither. */
export function checkLoginUrl (value: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(value)) return undefined
  if (value.startsWith('/')) return value.startsWith('//') || value.includes('\\') ? undefined : value
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return undefined
  return value
}
