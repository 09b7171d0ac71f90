/**
 * Prometheus metrics of the session plugin (prom-client), registered on a registry the caller owns: the
 * standalone service's own (served on its separate metrics listener), or the embedding app's. Loaded only when
 * metrics are on. docs/operations.md says what each one means.
 *
 * Counters are read from the plain numbers of session-counters.ts when scraped: nothing here runs on the
 * request path of an app route. Labels take a few fixed values each; no user id, username or token is ever
 * a label.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { InvalidOptionError } from '../common/errors.js'
import type { RevocationSync } from '../session/revocation-sync.js'
import type { AccessCounts, SessionCounters } from '../session/session-counters.js'
import type { StoreObserver, StoreOperation } from '../session/observed-store.js'

export const METRIC_PREFIX = 'stateless_session_'

/** Buckets of the store latency histogram, in seconds: a memory store answers in microseconds, Redis in about a millisecond. */
export const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export interface MetricSources {
  counters: SessionCounters
  /** The revocation sync, once created (read when scraped). */
  sync: () => RevocationSync
  /** The store's label (storeName). */
  store: string
}

export interface SessionMetrics {
  /** Store operation durations and failures (for observedStore). */
  observeStore: StoreObserver
  /** onResponse hook of the auth routes: responses by route, method and status class. */
  onResponse: (request: FastifyRequest, reply: FastifyReply, done: () => void) => void
}

/** The access-check results, each a sum of outcomes of access-check.ts. */
const ACCESS_RESULTS: Record<string, Array<keyof AccessCounts>> = {
  valid: ['valid'],
  expired: ['expired'],
  revoked: ['revoked'],
  stale: ['stale'],
  invalid: ['malformed', 'unknown-key', 'decrypt', 'signature', 'claims', 'not-yet-valid']
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const
const RESPONSES = `${METRIC_PREFIX}http_responses_total`
/** The `route` label of answers given before any route matched (src/http/framework-errors.ts). */
export const UNMATCHED_ROUTE = 'unmatched'

function statusClass (statusCode: number): string {
  return STATUS_CLASSES[Math.floor(statusCode / 100) - 1] ?? '5xx'
}

/** A counter whose value, per label set, is read from a plain number when scraped. */
function readCounter (registry: Registry, name: string, help: string, labelNames: string[], read: () => Array<[Record<string, string>, number]>): Counter {
  return new Counter({
    name: METRIC_PREFIX + name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of read()) this.inc(labels, value)
    }
  })
}

function entries<K extends string> (label: string, values: Record<K, number>): Array<[Record<string, string>, number]> {
  return (Object.entries(values) as Array<[K, number]>).map(([key, value]) => [{ [label]: key }, value])
}

/** Registers the session metrics on `registry`; throws InvalidOptionError when they are there already. */
export function registerMetrics (registry: Registry, sources: MetricSources): SessionMetrics {
  if (registry.getSingleMetric(`${METRIC_PREFIX}logins_total`) !== undefined) {
    throw new InvalidOptionError(`session plugin option "metricsRegistry" already holds the ${METRIC_PREFIX}* metrics: register the plugin once per registry`)
  }
  const { counters } = sources
  const sync = sources.sync
  readCounter(registry, 'logins_total', 'Login attempts that reached the credential check, by outcome.', ['outcome'], () => entries('outcome', counters.logins))
  readCounter(registry, 'refreshes_total', 'Refresh token rotations, by outcome: rotated, replayed (the predecessor inside the grace window), reuse_detected (the family was revoked), invalid, error (store failure).', ['outcome'], () => entries('outcome', counters.refreshes))
  readCounter(registry, 'access_checks_total', 'Access token checks, by result: valid, expired, invalid, revoked, stale (not vouched for: the revocation view is stale).', ['result'], () =>
    Object.entries(ACCESS_RESULTS).map(([result, outcomes]) => [{ result }, outcomes.reduce((sum, outcome) => sum + counters.access[outcome], 0)]))
  readCounter(registry, 'access_check_cache_hits_total', 'Access checks answered from the verified-token cache (expiry and revocation still checked).', [], () => [[{}, counters.access.cacheHits]])
  readCounter(registry, 'revocations_total', 'Revocations this instance recorded in the store, by kind: token, family (a session), subject (every session of a user).', ['kind'], () => entries('kind', counters.revocations))
  readCounter(registry, 'rate_limited_total', 'Requests refused with 429 by a rate limit, by limit (login, refresh, signup, second_factor) and scope (account, ip).', ['limit', 'scope'], () =>
    Object.entries(counters.rateLimited).flatMap(([limit, scopes]) => Object.entries(scopes).map(([scope, value]): [Record<string, string>, number] => [{ limit, scope }, value])))
  readCounter(registry, 'revocation_log_reloads_total', 'Times the store was found to have lost its revocation log (Redis restarted empty) and the view was reloaded.', [], () => [[{}, sync().status().logReloads]])

  // Each process of a cluster (AggregatorRegistry) holds its own copy of the revocation view: the aggregate is
  // the worst copy (largest, most behind, stale if any is), as a sum would count one denylist once per worker.
  const gauges = [new Gauge({
    name: `${METRIC_PREFIX}denylist_entries`,
    help: 'Revocations held in memory (token, family and subject entries still in force).',
    registers: [],
    aggregator: 'max',
    collect () { this.set(sync().status().denylistSize) }
  })]
  // Lag and staleness come from one reading of the view, taken when the lag is collected (prom-client collects
  // in registration order, lag first): read apart, a scrape could show the view stale with a lag still at the
  // limit, as the clock moved between the two readings.
  const stale = new Gauge({
    name: `${METRIC_PREFIX}revocation_view_stale`,
    help: '1 while the revocation view is stale (not confirmed within the staleness limit): protected requests get 503.',
    registers: [],
    aggregator: 'max'
  })
  gauges.push(new Gauge({
    name: `${METRIC_PREFIX}revocation_sync_lag_seconds`,
    help: 'Seconds since the in-memory revocation view was last confirmed complete against the store: how far behind it may be.',
    registers: [],
    aggregator: 'max',
    collect () {
      const status = sync().status()
      this.set(Math.max(status.confirmedMsAgo, 0) / 1000)
      stale.set(status.stale ? 1 : 0)
    }
  }), stale)
  for (const gauge of gauges) registry.registerMetric(gauge)

  const durations = new Histogram({
    name: `${METRIC_PREFIX}store_operation_duration_seconds`,
    help: 'Duration of session store operations, by operation and store, failures included.',
    labelNames: ['operation', 'store'],
    buckets: STORE_BUCKETS,
    registers: [registry]
  })
  const errors = new Counter({
    name: `${METRIC_PREFIX}store_errors_total`,
    help: 'Session store operations that failed (the request answers 503), by operation and store.',
    labelNames: ['operation', 'store'],
    registers: [registry]
  })
  const store = sources.store
  const timers = new Map<StoreOperation, Histogram.Internal<string>>()
  const failures = new Map<StoreOperation, Counter.Internal>()
  const responses = new Counter({
    name: RESPONSES,
    help: 'Responses of the auth routes, by route, method and status class.',
    labelNames: ['route', 'method', 'status_class'],
    registers: [registry]
  })

  return {
    observeStore (operation, seconds, error) {
      let timer = timers.get(operation)
      if (timer === undefined) timers.set(operation, timer = durations.labels({ operation, store }))
      timer.observe(seconds)
      if (error !== undefined) {
        let failed = failures.get(operation)
        if (failed === undefined) failures.set(operation, failed = errors.labels({ operation, store }))
        failed.inc()
      }
    },
    onResponse (request, reply, done) {
      responses.inc({ route: request.routeOptions.url ?? UNMATCHED_ROUTE, method: request.method, status_class: statusClass(reply.statusCode) })
      done()
    }
  }
}

/**
 * Counts an answer given before any route (route `unmatched`) in the responses counter of the session metrics
 * registered on `registry`: the standalone service's answers of framework-errors.ts.
 */
export function unmatchedResponses (registry: Registry): (method: string, statusCode: number) => void {
  const responses = registry.getSingleMetric(RESPONSES)
  if (!(responses instanceof Counter)) throw new Error(`${RESPONSES} is not registered: register the session plugin's metrics first`)
  return (method, statusCode) => { responses.inc({ route: UNMATCHED_ROUTE, method, status_class: statusClass(statusCode) }) }
}
