/**
 * The Prometheus metrics listener of the standalone service: `GET /metrics` on METRICS_HOST:METRICS_PORT, a
 * port of its own (never the public one), off unless METRICS_PORT is set. The registry holds the session
 * plugin's metrics and Node's default process metrics.
 */
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { InvalidOptionError } from '../common/errors.js'
import type { EnvConfig } from './env-schema.js'

/** A registry with Node's default metrics (process CPU, memory, event loop lag, GC, handles). */
export function serviceRegistry (): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}

/** Refuses metrics on the public port (the boot stops, naming both variables). */
export function checkMetricsConfig (config: Pick<EnvConfig, 'METRICS_PORT' | 'PORT'>): void {
  if (config.METRICS_PORT === '') return
  const port = Number(config.METRICS_PORT)
  if (port > 65535) throw new InvalidOptionError(`METRICS_PORT must be a port from 0 to 65535 (got ${port})`)
  if (port !== 0 && port === config.PORT) {
    throw new InvalidOptionError(`METRICS_PORT must differ from PORT (${config.PORT}): metrics are never served on the public port`)
  }
}

const listeners = new WeakMap<FastifyInstance, Server>()

/**
 * With METRICS_PORT set, the service's registry, as `app.metricsRegistry` (undefined otherwise), and the
 * closing of its listener with the app. Called by buildApp, before the app is ready.
 */
export function prepareMetrics (app: FastifyInstance): Registry | undefined {
  const registry = app.config.METRICS_PORT === '' ? undefined : serviceRegistry()
  app.decorate('metricsRegistry', registry)
  if (registry !== undefined) {
    app.addHook('onClose', async () => {
      const server = listeners.get(app)
      if (server === undefined) return
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })
  }
  return registry
}

/**
 * Starts the metrics listener of a service built with METRICS_PORT set (closed with the app); undefined when
 * metrics are off. server.ts calls it after the app listens.
 */
export async function listenMetrics (app: FastifyInstance): Promise<AddressInfo | undefined> {
  const registry = app.metricsRegistry
  if (registry === undefined) return undefined
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0]
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at GET /metrics\n')
      return
    }
    registry.metrics().then((text) => {
      response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : text)
    }, (error: unknown) => {
      app.log.error({ err: error }, 'collecting metrics failed')
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n')
    })
  })
  if (listeners.has(app)) throw new Error('the metrics listener is already started')
  listeners.set(app, server)
  server.listen(Number(app.config.METRICS_PORT), app.config.METRICS_HOST)
  await once(server, 'listening')
  const address = server.address() as AddressInfo
  app.log.info({ host: address.address, port: address.port }, 'metrics listener started: GET /metrics')
  return address
}
