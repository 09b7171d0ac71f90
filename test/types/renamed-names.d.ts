// The decorators renamed for TypeScript, as docs/plugin.md shows, for the program that type-checks
// test/http/coexistence.test.ts beside @fastify/secure-session, @fastify/session and @fastify/csrf-protection.
import 'fastify-stateless-session'

declare module 'fastify-stateless-session' {
  interface StatelessSessionNames {
    request: 'auth'
    csrf: 'sessionCsrf'
  }
  interface SessionClaims {
    tenant: string
    seats: number
  }
}
