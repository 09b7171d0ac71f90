/**
 * Metrics of a service running as several workers (WORKERS above 1, workers.ts). The primary alone listens on
 * METRICS_PORT; each scrape asks every worker for its registry over the cluster's IPC channel and answers the
 * aggregate (prom-client's AggregatorRegistry). Counters and histograms are summed, so a rate over scrapes
 * counts the whole service; gauges follow their `aggregator` setting (src/http/metrics.ts, and prom-client's
 * own for Node's default metrics). docs/operations.md lists the choices.
 *
 * The primary loads only this, prom-client and node:http: never the app.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client'
import type { EnvConfig } from './env-schema.js'
import type { PrimaryLog } from './workers.js'
import { checkMetricsConfig, listenMetricsPort, metricsRequestListener, type ScrapeFailure } from './metrics-server.js'

/** How long prom-client's clusterMetrics waits for every worker's answer (fixed in prom-client 15). */
export const WORKER_ANSWER_TIMEOUT_SECONDS = 5

class NoWorkerRunning extends Error {}

let answering: AggregatorRegistry<PrometheusContentType> | undefined

/**
 * In a worker: answers the primary's metrics requests with `registry` (the service's own, not prom-client's
 * global one). Called before the worker listens, so a worker that serves requests also answers scrapes.
 */
export function answerPrimaryScrapes (registry: Registry): void {
  AggregatorRegistry.setRegistries([registry])
  // prom-client starts listening for the primary's requests when an AggregatorRegistry is constructed, not in
  // setRegistries: this instance exists for that side effect only.
  answering ??= new AggregatorRegistry()
}

/** The answer to a scrape that could not gather every worker's metrics (it is logged once here). */
function scrapeFailure (error: unknown, log: PrimaryLog): ScrapeFailure {
  if (error instanceof NoWorkerRunning) {
    log.error('metrics unavailable: no worker is running')
    return { status: 503, text: 'metrics unavailable: no worker is running (starting or restarting); try again' }
  }
  // prom-client's only sign of a worker that did not answer in time (stopped, busy, or still starting).
  if (error instanceof Error && error.message === 'Operation timed out.') {
    log.error(`metrics unavailable: not every worker answered within ${WORKER_ANSWER_TIMEOUT_SECONDS} s`)
    return { status: 503, text: `metrics unavailable: not every worker answered within ${WORKER_ANSWER_TIMEOUT_SECONDS} s (one may be starting, restarting or stuck); try again` }
  }
  log.error(`collecting the workers' metrics failed: ${error instanceof Error ? error.message : String(error)}`)
  return { status: 500, text: 'metrics collection failed' }
}

/**
 * In the primary: serves GET /metrics on METRICS_HOST:METRICS_PORT with the metrics of all workers. Started
 * before the workers are forked, so a bad or busy metrics port stops the service before anything runs.
 */
export async function listenClusterMetrics (config: Pick<EnvConfig, 'METRICS_PORT' | 'METRICS_HOST' | 'PORT'>, log: PrimaryLog): Promise<AddressInfo> {
  checkMetricsConfig(config)
  const aggregator = new AggregatorRegistry()
  const collect = async (): Promise<string> => {
    const text = await aggregator.clusterMetrics()
    // clusterMetrics gives an empty text when no worker is connected: that is not "no metrics".
    if (text === '') throw new NoWorkerRunning()
    return text
  }
  const server = createServer(metricsRequestListener(aggregator.contentType, collect, (error) => scrapeFailure(error, log)))
  const address = await listenMetricsPort(server, config)
  log.info(`metrics listener started: GET /metrics on ${address.address}:${address.port}, the workers' metrics aggregated`)
  return address
}
