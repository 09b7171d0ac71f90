// Verifies the signed identity (X-Session-Assertion) that the session service hands to the proxy with each
// request it allows. Needs only `jose` (npm install jose) and the service's public JWKS URL: never the
// session secret. docs/upstreams.md explains each check.
import { createRemoteJWKSet, jwtVerify } from 'jose'

/**
 * @param {{ jwksUrl: string, issuer: string, audience: string }} options
 *   jwksUrl: https://auth.example.com/.well-known/jwks.json
 *   issuer: the service's PUBLIC_ORIGIN (or TOKEN_ISSUER when PUBLIC_ORIGIN is not set)
 *   audience: the host this upstream is reached at, as the browser sees it (app.example.com, or localhost:8080)
 */
export function assertionVerifier ({ jwksUrl, issuer, audience }) {
  // Fetched once, cached, and fetched again when an assertion names a key it does not know (a rotation).
  const jwks = createRemoteJWKSet(new URL(jwksUrl))
  return async function verifyAssertion (assertion) {
    if (typeof assertion !== 'string' || assertion === '') throw new Error('no assertion: the request did not come through the proxy')
    const { payload } = await jwtVerify(assertion, jwks, {
      algorithms: ['EdDSA'],
      issuer,
      audience,
      requiredClaims: ['sub', 'sid', 'iat', 'exp'],
      maxTokenAge: '5m',
      clockTolerance: 5
    })
    return { id: payload.sub, username: payload.username, roles: payload.roles, sessionId: payload.sid, authTime: payload.auth_time, amr: payload.amr }
  }
}
