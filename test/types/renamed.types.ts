/** Type tests of renamed decorators (checked by `npm run typecheck`, program test/types/tsconfig.renamed.json). */
import type { Session } from '@fastify/secure-session'
import { expectTypeOf } from 'expect-type'
import Fastify, { type FastifyRequest } from 'fastify'
import type { SessionInfo } from '../../src/index.js'
import type { CsrfProtection } from '../../src/http/csrf.js'

declare const request: FastifyRequest
expectTypeOf(request.auth).toEqualTypeOf<SessionInfo | null>()
expectTypeOf(request.authStale).toEqualTypeOf<boolean>()
expectTypeOf(request.session).toEqualTypeOf<Session>()
const app = Fastify()
expectTypeOf(app.sessionCsrf).toEqualTypeOf<CsrfProtection>()
// @ts-expect-error our session is not under request.session once renamed
expectTypeOf(request.session).toEqualTypeOf<SessionInfo | null>()
