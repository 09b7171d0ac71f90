// A tiny upstream behind a forward-auth proxy: it trusts nothing but the signed assertion, verified against
// the session service's JWKS, and answers with who is asking. The tests of docs/proxies.md run it behind real
// nginx and Caddy. Environment: PORT, JWKS_URL, ISSUER, AUDIENCE.
import { createServer } from 'node:http'
import { assertionVerifier } from './verify-assertion.mjs'

const verifyAssertion = assertionVerifier({ jwksUrl: process.env.JWKS_URL, issuer: process.env.ISSUER, audience: process.env.AUDIENCE })

const server = createServer((request, response) => {
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
