/**
 * A session store, measured: each operation's duration and failures go to an observer (the latency
 * histograms), each revocation it records is counted by kind, and, inside a traced request, each operation
 * is a span. Used only when metrics or tracing are on: otherwise the plugin talks to the store directly.
 * The blocking revocation feed (`waitForRevocations`, which waits up to a second by design) and SQLite's
 * `changedByOthers` (asked every 10 ms) are passed through unmeasured.
 */
import { performance } from 'node:perf_hooks'
import { trace, type Tracer } from '@opentelemetry/api'
import { errorType, inSpan } from './observed-session-service.js'
import type { SessionCounters } from './session-counters.js'
import type { SessionStore } from '../stores/session-store.js'

export const STORE_OPERATIONS = ['revocationMark', 'createFamily', 'rotate', 'listFamilies', 'revokeFamily', 'revokeToken', 'revokeSubject',
  'loadRevocations', 'revocationsSince', 'purgeExpired', 'restoreRevocations'] as const
export type StoreOperation = typeof STORE_OPERATIONS[number]

/** `operation` took `seconds`; `error` is set when it failed (a bounded name: errorType). */
export type StoreObserver = (operation: StoreOperation, seconds: number, error: string | undefined) => void

export interface ObservedStoreOptions {
  /** The store's label: memory, sqlite, redis or custom (storeName). */
  name: string
  counters: SessionCounters
  observe?: StoreObserver | undefined
  tracer?: Tracer | undefined
}

/** A bounded label for a store: the built-in backends by name, anything else `custom`. */
export function storeName (store: SessionStore): string {
  const match = /^(Memory|Sqlite|Redis)SessionStore$/.exec(store.constructor.name)
  return match === null ? 'custom' : (match[1] as string).toLowerCase()
}

export function observedStore (store: SessionStore, o: ObservedStoreOptions): SessionStore {
  const { counters, observe, tracer } = o
  function measured<A extends unknown[], R> (operation: StoreOperation, call: (...args: A) => Promise<R>, count?: (result: R) => void): (...args: A) => Promise<R> {
    const run = async (args: A): Promise<R> => {
      const startedAt = performance.now()
      try {
        const result = await call.apply(store, args)
        observe?.(operation, (performance.now() - startedAt) / 1000, undefined)
        count?.(result)
        return result
      } catch (error) {
        observe?.(operation, (performance.now() - startedAt) / 1000, errorType(error))
        throw error
      }
    }
    const attributes = { 'session.store': o.name, 'db.operation.name': operation }
    // Spans only under a recorded span (a traced request): background polling opens no traces of its own.
    return async (...args: A): Promise<R> => tracer !== undefined && trace.getActiveSpan()?.isRecording() === true
      ? await inSpan(tracer, `session.store ${operation}`, async () => await run(args), () => ({}), attributes)
      : await run(args)
  }
  const observed: SessionStore = {
    revocationMark: measured('revocationMark', store.revocationMark),
    createFamily: measured('createFamily', store.createFamily),
    rotate: measured('rotate', store.rotate, (r) => { if (r.outcome === 'reused') counters.revocations.family++ }),
    listFamilies: measured('listFamilies', store.listFamilies),
    revokeFamily: measured('revokeFamily', store.revokeFamily, (r) => { if (r !== undefined) counters.revocations.family++ }),
    revokeToken: measured('revokeToken', store.revokeToken, () => { counters.revocations.token++ }),
    revokeSubject: measured('revokeSubject', store.revokeSubject, (r) => {
      counters.revocations.subject++
      counters.revocations.family += r.length - 1
    }),
    loadRevocations: measured('loadRevocations', store.loadRevocations),
    revocationsSince: measured('revocationsSince', store.revocationsSince),
    purgeExpired: measured('purgeExpired', store.purgeExpired),
    ping: store.ping.bind(store),
    close: store.close.bind(store)
  }
  // Every optional member the store has must be passed on: the revocation sync looks for them on this object,
  // and a missing `changedByOthers` once left SQLite's 10 ms check off whenever metrics were on (revocations by
  // other processes then waited for the 1 s poll). test/session/observed-store.test.ts checks each backend.
  if (store.waitForRevocations !== undefined) observed.waitForRevocations = store.waitForRevocations.bind(store)
  if (store.changedByOthers !== undefined) observed.changedByOthers = store.changedByOthers.bind(store)
  if (store.restoreRevocations !== undefined) observed.restoreRevocations = measured('restoreRevocations', store.restoreRevocations)
  if (store.isUnavailableError !== undefined) observed.isUnavailableError = store.isUnavailableError.bind(store)
  return observed
}
