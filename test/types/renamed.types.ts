/** Type tests of renamed decorators (checked by `npm run typecheck`, program test/types/tsconfig.renamed.json). */
import type { Session } from '@fastify/secure-session'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyRequest } from 'fastify'
import type { SessionInfo, SessionUser } from '../../src/index.js'
import type { CsrfProtection } from '../../src/http/csrf.js'

declare const request: FastifyRequest
expectTypeOf(request.auth).toEqualTypeOf<SessionInfo | null>()
expectTypeOf(request.authStale).toEqualTypeOf<boolean>()
expectTypeOf(request.session).toEqualTypeOf<Session>()
const app = Fastify()
expectTypeOf(app.sessionCsrf).toEqualTypeOf<CsrfProtection>()
// @ts-expect-error our session is not under request.session once renamed
expectTypeOf(request.session).toEqualTypeOf<SessionInfo | null>()

// An app's own SessionClaims (renamed-names.d.ts) types the claims a user carries and the session shows.
expectTypeOf(request.auth?.claims.tenant).toEqualTypeOf<string | undefined>()
expectTypeOf(request.auth?.claims.seats).toEqualTypeOf<number | undefined>()
// @ts-expect-error not a claim the app declared
expectTypeOf(request.auth?.claims.locale).toEqualTypeOf<string | undefined>()
export const withClaims: SessionUser = { id: 'u', username: 'alice', roles: [], claims: { tenant: 'acme', seats: 3 } }
// @ts-expect-error seats is a number
export const wrongClaim: SessionUser = { id: 'u', username: 'alice', roles: [], claims: { tenant: 'acme', seats: '3' } }
