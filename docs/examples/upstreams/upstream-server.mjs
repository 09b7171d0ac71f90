// A tiny upstream behind a forward-auth proxy: it trusts nothing but the signed assertion, verified against
// the session service's JWKS, and answers with who is asking. The tests of docs/proxies.md run it behind real
// nginx and Caddy. Environment: PORT, JWKS_URL, ISSUER, AUDIENCE.
import { createServer } from 'node:http'
import { assertionVerifier } from './verify-assertion.mjs'

const verifyAssertion = assertionVerifier({ jwksUrl: process.env.JWKS_URL, issuer: process.env.ISSUER, audience: process.env.AUDIENCE })

// The login page (LOGIN_URL=/login). The proxy passes /login on without a check, and with no identity: it
// must show nothing but the form. After the login it goes back to `rd`, only when that is on this very site.
const LOGIN_PAGE = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Sign in</title>
<form id="login"><input name="username" autocomplete="username"> <input name="password" type="password" autocomplete="current-password"> <button>Sign in</button></form>
<script>
document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const form = new FormData(event.target)
  const response = await fetch('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: form.get('username'), password: form.get('password') }) })
  if (!response.ok) return
  const rd = new URL(new URLSearchParams(location.search).get('rd') ?? '/', location.origin)
  location.assign(rd.origin === location.origin ? rd.href : '/')
})
</script>
</html>
`

const server = createServer((request, response) => {
  const path = (request.url ?? '').split('?')[0]
  if (path === '/login' && (request.method === 'GET' || request.method === 'HEAD')) {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    response.end(request.method === 'HEAD' ? undefined : LOGIN_PAGE)
    return
  }
  verifyAssertion(request.headers['x-session-assertion']).then((identity) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({
      identity,
      // What the proxy passed on, to show that the client's own copies were stripped.
      headers: {
        user: request.headers['x-auth-request-user'] ?? null,
        groups: request.headers['x-auth-request-groups'] ?? null,
        remoteUser: request.headers['remote-user'] ?? null,
        email: request.headers['x-auth-request-email'] ?? null,
        cookie: request.headers.cookie ?? null
      },
      // Every header name that arrived (lower case), to show that look-alikes (X-Auth-Request_Groups) did not.
      received: Object.keys(request.headers),
      method: request.method,
      url: request.url
    }))
  }, (error) => {
    response.writeHead(401, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ error: 'assertion refused', reason: error.code ?? error.message }))
  })
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
