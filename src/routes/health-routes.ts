/** Liveness and readiness for orchestrators and load balancers. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { StoreUnavailableError } from '../errors.js'
import type { SessionStore } from '../stores/session-store.js'
import { ErrorBody } from './schemas.js'

export interface HealthRoutesOptions {
  store: SessionStore
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async function healthRoutes (fastify, { store }) {
  fastify.get('/healthz', {
    schema: {
      summary: 'The process is up',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/readyz', {
    schema: {
      summary: 'The stores answer: ready to serve; 503 otherwise',
      response: { 200: Type.Object({ status: Type.Literal('ready'), store: Type.Literal('ok') }), 503: ErrorBody }
    }
  }, async (_request, reply) => {
    try {
      await store.ping()
    } catch (cause) {
      throw new StoreUnavailableError({ cause })
    }
    reply.header('cache-control', 'no-store')
    return { status: 'ready' as const, store: 'ok' as const }
  })
}
