/** Liveness and readiness for orchestrators and load balancers. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { SessionStoreStaleError, StoreUnavailableError } from '../common/errors.js'
import type { RevocationSync } from '../session/revocation-sync.js'
import type { SessionStore } from '../stores/session-store.js'
import { ErrorBody } from '../wire/schemas.js'

export interface HealthRoutesOptions {
  store: SessionStore
}

const ReadyBody = Type.Object({
  status: Type.Literal('ready'),
  store: Type.Literal('ok'),
  revocations: Type.Optional(Type.Object({
    mode: Type.Union([Type.Literal('push'), Type.Literal('poll')], { description: 'push: Redis stream read; poll: periodic read' }),
    confirmedMsAgo: Type.Integer({ description: 'Milliseconds since the in-memory view was last confirmed complete' }),
    denylistSize: Type.Integer(),
    logReloads: Type.Integer({ description: 'Times the store was found to have lost its revocation log since start' })
  }, { description: 'The revocation sync of the session plugin, when it is registered: not ready while its view is stale' }))
})

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async function healthRoutes (fastify, { store }) {
  const revocations: RevocationSync | undefined = fastify.hasDecorator('sessionRevocations') ? fastify.sessionRevocations : undefined
  // Never from a cache: a proxy or load balancer keeping a 200 would hide the outage it is asked about. Set
  // first, so that errors (a 503 from /readyz) carry it too.
  fastify.addHook('onRequest', async (_request, reply) => { reply.header('cache-control', 'no-store') })

  fastify.get('/healthz', {
    schema: {
      summary: 'The process is up',
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/readyz', {
    schema: {
      summary: 'The store answers and the revocation view is fresh: ready to serve; 503 otherwise',
      response: { 200: ReadyBody, 503: ErrorBody }
    }
  }, async () => {
    try {
      await store.ping()
    } catch (cause) {
      throw new StoreUnavailableError({ cause })
    }
    if (revocations === undefined) return { status: 'ready' as const, store: 'ok' as const }
    const { stale, ...sync } = revocations.status()
    if (stale) throw new SessionStoreStaleError()
    return { status: 'ready' as const, store: 'ok' as const, revocations: sync }
  })
}
