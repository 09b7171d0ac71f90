/**
 * The Prometheus metrics listener of the standalone service: `GET /metrics` on METRICS_HOST:METRICS_PORT, a
 * port of its own (never the public one), off unless METRICS_PORT is set. The registry holds the session
 * plugin's metrics and Node's default process metrics.
 */
import { createServer, type RequestListener, type Server } from 'node:http'
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

/** Why a scrape has no metrics to give: the status it answers and the line it says. */
export interface ScrapeFailure {
  status: number
  text: string
}

/**
 * The request listener of a metrics port: GET (or HEAD) /metrics answers what `collect` gives, anything else
 * 404. A failed collection answers what `failed` makes of the error (it logs it).
 */
export function metricsRequestListener (contentType: string, collect: () => Promise<string>, failed: (error: unknown) => ScrapeFailure): RequestListener {
  return (request, response) => {
    const path = (request.url ?? '').split('?')[0]
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at GET /metrics\n')
      return
    }
    collect().then((text) => {
      response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : text)
    }, (error: unknown) => {
      const failure = failed(error)
      response.writeHead(failure.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(failure.text + '\n')
    })
  }
}

/**
 * Listens on METRICS_HOST:METRICS_PORT. A port in use or refused is the metrics port's problem, said so (the
 * generic start-up message would blame PORT).
 */
export async function listenMetricsPort (server: Server, config: Pick<EnvConfig, 'METRICS_PORT' | 'METRICS_HOST'>): Promise<AddressInfo> {
  server.listen(Number(config.METRICS_PORT), config.METRICS_HOST)
  try {
    await once(server, 'listening')
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'EADDRINUSE') throw new InvalidOptionError(`METRICS_PORT ${config.METRICS_PORT} is already in use on ${config.METRICS_HOST}: stop the other process or choose another METRICS_PORT`)
    if (code === 'EACCES') throw new InvalidOptionError(`METRICS_PORT ${config.METRICS_PORT} needs more privileges than this process has: choose a METRICS_PORT of 1024 or more`)
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new InvalidOptionError(`METRICS_HOST ${JSON.stringify(config.METRICS_HOST)} is not an address of this machine: use 127.0.0.1, 0.0.0.0, or one of its addresses`)
    throw error
  }
  return server.address() as AddressInfo
}

/**
 * Starts the metrics listener of a service built with METRICS_PORT set (closed with the app); undefined when
 * metrics are off. server.ts calls it after the app listens, in a single-process service only: with WORKERS
 * above 1 the primary serves the metrics of all workers (cluster-metrics.ts).
 */
export async function listenMetrics (app: FastifyInstance): Promise<AddressInfo | undefined> {
  const registry = app.metricsRegistry
  if (registry === undefined) return undefined
  const server: Server = createServer(metricsRequestListener(registry.contentType, async () => await registry.metrics(), (error) => {
    app.log.error({ err: error }, 'collecting metrics failed')
    return { status: 500, text: 'metrics collection failed' }
  }))
  if (listeners.has(app)) throw new Error('the metrics listener is already started')
  listeners.set(app, server)
  const address = await listenMetricsPort(server, app.config)
  app.log.info({ host: address.address, port: address.port }, 'metrics listener started: GET /metrics')
  return address
}
