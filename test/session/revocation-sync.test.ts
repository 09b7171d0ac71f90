/** The revocation sync: loading, polling, purging; freshness, lost logs, failures and recovery (push and poll). */
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { test } from 'tap'
import { Denylist } from '../../src/session/denylist.js'
import type { Revocation } from '../../src/stores/session-store.js'
import { RevocationLogLostError } from '../../src/common/errors.js'
import { RevocationSync, type RevocationSyncOptions } from '../../src/session/revocation-sync.js'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import type { RevocationFeedBatch, SessionStore } from '../../src/stores/session-store.js'
import { ManualClock } from '../helper.js'
import { waitFor } from '../helpers/wait-for.js'

function setup (store: SessionStore, clock = new ManualClock()) {
  const errors: string[] = []
  const log = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { errors.push(JSON.parse(line).msg) } } } }).log
  const denylist = new Denylist()
  const sync = new RevocationSync({ store, denylist, clock: clock.now, log, leeway: 30, pollIntervalMs: 10, purgeIntervalMs: 10 })
  return { sync, denylist, errors, clock }
}

test('start loads what is live, polls follow the log, purge drops what expired', async (t) => {
  const store = new MemorySessionStore()
  const { sync, denylist, clock } = setup(store)
  const now = clock.seconds
  await store.revokeToken({ kind: 'token', id: 'before-start-000000000', expiresAt: now + 60 })
  await sync.start()
  t.teardown(() => sync.stop())
  t.equal(denylist.isRevoked('before-start-000000000', 'f', 's', 0), true, 'loaded at start')
  await store.revokeToken({ kind: 'token', id: 'after-start-0000000000', expiresAt: now + 60 })
  await Promise.all([sync.poll(), sync.poll()])
  t.equal(denylist.isRevoked('after-start-0000000000', 'f', 's', 0), true, 'picked up by a poll')
  clock.advance(100)
  await sync.purge()
  t.equal(denylist.size, 0, 'purged once expired (plus leeway)')
  await store.revokeToken({ kind: 'token', id: 'by-timer-0000000000000', expiresAt: clock.seconds + 60 })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(denylist.isRevoked('by-timer-0000000000000', 'f', 's', 0), true, 'the timer polls on its own')
})

test('a failing store is logged and retried, never thrown', async (t) => {
  const store = new MemorySessionStore()
  const failing: SessionStore = Object.assign(Object.create(store) as SessionStore, {
    revocationsSince: async () => { throw new Error('store down') },
    purgeExpired: async () => { throw new Error('store down') }
  })
  const { sync, errors } = setup(failing)
  await sync.poll()
  await sync.purge()
  t.same(errors, ['revocation poll failed; retrying', 'purging expired sessions failed; retrying'])
})

interface LogLine { level: string, msg: string, fields: Record<string, unknown> }

function fakeLog (): { log: FastifyBaseLogger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => { lines.push({ level, msg, fields }) }
  const log = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as FastifyBaseLogger
  return { log, lines }
}

/** Monotonic time the test moves. */
class Monotonic {
  ms = 0
  readonly now = (): number => this.ms
}

const clock = new ManualClock()
const token = (id: string): Revocation => ({ kind: 'token', id, expiresAt: clock.seconds + 600 })

type Step = (cursor: string, signal: AbortSignal) => Promise<RevocationFeedBatch>

/** A memory store with a scripted push feed: each wait takes the next step; with none left it waits for the abort. */
class ScriptedFeedStore extends MemorySessionStore {
  readonly steps: Step[] = []
  readonly cursors: string[] = []
  readonly restored: Revocation[][] = []
  loadFailures = 0

  override async loadRevocations (now: number): Promise<{ revocations: Revocation[], cursor: string }> {
    if (this.loadFailures > 0) {
      this.loadFailures--
      throw new Error('load failed')
    }
    return await super.loadRevocations(now)
  }

  async waitForRevocations (cursor: string, _timeoutMs: number, signal: AbortSignal): Promise<RevocationFeedBatch> {
    this.cursors.push(cursor)
    const step = this.steps.shift()
    if (step !== undefined) return await step(cursor, signal)
    return await new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    })
  }

  async restoreRevocations (revocations: Revocation[]): Promise<void> {
    this.restored.push(revocations)
    for (const r of revocations) await this.revokeToken(r as Extract<Revocation, { kind: 'token' }>)
  }
}

function sync (store: MemorySessionStore, extra: Partial<RevocationSyncOptions> = {}): { sync: RevocationSync, denylist: Denylist, lines: LogLine[], monotonic: Monotonic } {
  const { log, lines } = fakeLog()
  const denylist = new Denylist()
  const monotonic = new Monotonic()
  return {
    sync: new RevocationSync({ store, denylist, clock: clock.now, log, leeway: 30, pollIntervalMs: 3_600_000, purgeIntervalMs: 3_600_000, monotonic: monotonic.now, ...extra }),
    denylist,
    lines,
    monotonic
  }
}

test('poll mode: freshness follows successful polls; without a limit the view is never stale', async (t) => {
  const store = new MemorySessionStore()
  await store.revokeToken(token('before-start') as Extract<Revocation, { kind: 'token' }>)
  const s = sync(store, { maxStalenessMs: 1000 })
  await s.sync.start()
  t.teardown(async () => { await s.sync.stop() })
  t.ok(s.denylist.isRevoked('before-start', 'f', 'u', 0), 'loaded at start')
  t.equal(s.sync.stale, false)
  s.monotonic.ms = 1001
  t.equal(s.sync.stale, true, 'not confirmed for longer than the limit')
  t.same(s.sync.status(), { mode: 'poll', stale: true, confirmedMsAgo: 1001, denylistSize: 1, logReloads: 0 })
  await store.revokeToken(token('later') as Extract<Revocation, { kind: 'token' }>)
  await s.sync.poll()
  t.equal(s.sync.stale, false, 'a poll confirms it again')
  t.ok(s.denylist.isRevoked('later', 'f', 'u', 0))

  const unlimited = sync(new MemorySessionStore())
  await unlimited.sync.start()
  t.teardown(async () => { await unlimited.sync.stop() })
  unlimited.monotonic.ms = 1e9
  t.equal(unlimited.sync.stale, false, 'maxStalenessMs 0: never stale')
})

test('poll mode: a failing poll is logged and leaves the view unconfirmed', async (t) => {
  const store = new MemorySessionStore()
  const s = sync(store, { maxStalenessMs: 1000 })
  await s.sync.start()
  t.teardown(async () => { await s.sync.stop() })
  store.revocationsSince = async () => { throw new Error('disk on fire') }
  s.monotonic.ms = 2000
  await s.sync.poll()
  t.equal(s.sync.stale, true)
  t.match(s.lines.at(-1), { level: 'error', msg: 'revocation poll failed; retrying', fields: { err: { message: 'disk on fire' } } })
})

test('poll mode: a lost log is reloaded, keeping what was known; a failing reload is logged', async (t) => {
  const store = new MemorySessionStore()
  const s = sync(store, { maxStalenessMs: 1000 })
  await s.sync.start()
  t.teardown(async () => { await s.sync.stop() })
  s.denylist.add(token('known'))
  await store.revokeToken(token('in-store') as Extract<Revocation, { kind: 'token' }>)
  const since = store.revocationsSince.bind(store)
  store.revocationsSince = async () => { throw new RevocationLogLostError('gone') }
  s.monotonic.ms = 5000
  await s.sync.poll()
  t.equal(s.sync.status().logReloads, 1)
  t.equal(s.sync.stale, false, 'the reload confirms the view')
  t.ok(s.denylist.isRevoked('known', 'f', 'u', 0), 'what was known stays (this store cannot restore it: nothing to call)')
  t.ok(s.denylist.isRevoked('in-store', 'f', 'u', 0), 'what the store holds is loaded')
  t.equal(s.lines.filter((l) => l.level === 'error').length, 1, 'the loss is logged')

  store.loadRevocations = async () => { throw new Error('still down') }
  await s.sync.poll()
  t.match(s.lines.at(-1), { level: 'error', msg: 'revocation poll failed; retrying', fields: { err: { message: 'still down' } } })
  store.revocationsSince = since
})

test('push mode: batches, confirmation, failures with backoff, recovery, lost log with restore', async (t) => {
  const store = new ScriptedFeedStore()
  const s = sync(store, { maxStalenessMs: 2000 })
  const batch = (cursor: string, revocations: Revocation[], complete: boolean) => async () => ({ revocations, cursor, complete })
  const fail = (message: string) => async () => { throw new Error(message) }
  let confirmedAfterFirst = false
  store.steps.push(
    async () => {
      s.monotonic.ms = 3000
      return { revocations: [token('a')], cursor: '1', complete: false }
    },
    async () => {
      confirmedAfterFirst = !s.sync.stale
      return { revocations: [token('b')], cursor: '2', complete: true }
    },
    fail('connection lost'),
    fail('still lost'),
    batch('3', [token('c')], true),
    async () => { throw new RevocationLogLostError('flushed') },
    fail('stays down'),
    batch('4', [], true)
  )
  s.denylist.add(token('only-in-memory'))
  await s.sync.start()
  await waitFor('the script to run out', () => store.steps.length, (n) => n === 0)
  await waitFor('the last batch to apply', () => store.cursors.length, (n) => n >= 9)

  t.equal(confirmedAfterFirst, false, 'an incomplete batch does not confirm the view')
  t.same(store.cursors.slice(0, 8), ['0', '1', '2', '2', '2', '3', '0', '0'], 'each read starts at the last cursor; after the reload at the reloaded one')
  for (const id of ['a', 'b', 'c', 'only-in-memory']) t.ok(s.denylist.isRevoked(id, 'f', 'u', 0), `${id} is known`)
  t.equal(s.sync.stale, false)
  t.same(store.restored.map((list) => list.map((r) => r.id).sort()), [['a', 'b', 'c', 'only-in-memory']], 'what the store lost is written back')
  const errors = s.lines.filter((l) => l.level === 'error').map((l) => l.msg)
  t.same(errors, [
    'revocation feed lost; retrying (sessions are refused once the view is stale)',
    'the store lost its revocation log (Redis restarted without its data?): reloading and restoring the revocations this instance knows; sessions whose records were lost must log in again',
    'revocation feed lost; retrying (sessions are refused once the view is stale)'
  ], 'one error per outage, one per loss')
  t.equal(s.lines.filter((l) => l.level === 'debug').length, 1, 'repeated failures of one outage at debug level')
  t.same(s.lines.filter((l) => l.level === 'info').map((l) => l.fields['caughtUp']), [1, 0], 'recoveries are logged with what was caught up')
  t.equal(s.sync.status().mode, 'push')
  t.equal(s.sync.status().logReloads, 1)
  await s.sync.stop()
})

test('push mode: a read confirms the view as of when the store answered, not when the read started', async (t) => {
  const store = new ScriptedFeedStore()
  const s = sync(store, { maxStalenessMs: 4000 })
  const timeouts: number[] = []
  const wait = store.waitForRevocations.bind(store)
  store.waitForRevocations = async (cursor, timeoutMs, signal) => {
    timeouts.push(timeoutMs)
    return await wait(cursor, timeoutMs, signal)
  }
  const seen: number[] = []
  // A step that takes `ms` of monotonic time (the read blocking), then answers.
  const after = (ms: number, revocations: Revocation[]) => async (cursor: string): Promise<RevocationFeedBatch> => {
    seen.push(s.sync.status().confirmedMsAgo)
    s.monotonic.ms += ms
    return { revocations, cursor: revocations.length === 0 ? cursor : `${cursor}+`, complete: true }
  }
  store.steps.push(
    after(1000, []), // an idle read that waited its whole block
    after(1000, []),
    after(600, [token('late-in-a-block')]), // revocations that came 600 ms into a read
    after(1, []), // the short read after them
    after(6000, []) // an empty answer held up for 5 s on its way back
  )
  await s.sync.start()
  await waitFor('the script to run out', () => store.steps.length, (n) => n === 0)
  await waitFor('the reads to settle', () => store.cursors.length, (n) => n === 6)
  seen.push(s.sync.status().confirmedMsAgo)
  t.same(seen, [0, 0, 0, 600, 0, 5000], 'confirmed as of each empty answer (the end of its block); as of the start of a read with revocations; not past the end of a block')
  t.same(timeouts, [1000, 1000, 1000, 1, 1000, 1000], 'after revocations, one short read; idle reads block a quarter of the limit, at most 1 s')
  t.equal(s.sync.stale, true, 'a reply held up longer than the limit leaves the view stale')
  await s.sync.stop()
})

test('push mode: a failing reload after a loss is an outage like any other', async (t) => {
  const store = new ScriptedFeedStore()
  const s = sync(store, { maxStalenessMs: 2000 })
  store.steps.push(
    async () => {
      store.loadFailures = 1
      throw new RevocationLogLostError('flushed')
    },
    async (cursor) => ({ revocations: [], cursor, complete: true })
  )
  await s.sync.start()
  await waitFor('the script to run out', () => store.steps.length, (n) => n === 0)
  await waitFor('the second read to settle', () => s.lines.filter((l) => l.level === 'info').length, (n) => n === 1)
  t.match(s.lines.find((l) => l.level === 'error' && l.msg.startsWith('revocation feed lost')), { fields: { err: { message: 'load failed' } } })
  t.equal(s.sync.status().logReloads, 0, 'not reloaded: the read after it found the log again')
  await s.sync.stop()
})

test('push mode: stop() ends a blocked read and a backoff at once', async (t) => {
  const blocked = new ScriptedFeedStore()
  const a = sync(blocked)
  await a.sync.start()
  await waitFor('the read to block', () => blocked.cursors.length, (n) => n === 1)
  await a.sync.stop()
  t.same(a.lines, [], 'nothing logged for a stop')

  const failing = new ScriptedFeedStore()
  failing.steps.push(...Array.from({ length: 20 }, () => async () => { throw new Error('down') }))
  const b = sync(failing)
  await b.sync.start()
  await waitFor('a few failures', () => failing.cursors.length, (n) => n >= 3)
  const started = Date.now()
  await b.sync.stop()
  t.ok(Date.now() - started < 500, 'the backoff sleep is cut short')
  const count = failing.cursors.length
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(failing.cursors.length, count, 'no read after stop')
})

test('a load that fails at start rejects start()', async (t) => {
  const store = new ScriptedFeedStore()
  store.loadFailures = 1
  const s = sync(store)
  await t.rejects(s.sync.start(), { message: 'load failed' })
})

test('purge: expired entries leave memory and the store; a failing store purge is logged', async (t) => {
  const store = new MemorySessionStore()
  const s = sync(store)
  await s.sync.start()
  t.teardown(async () => { await s.sync.stop() })
  s.denylist.add({ kind: 'token', id: 'old', expiresAt: clock.seconds - 31 })
  s.denylist.add(token('fresh'))
  await store.revokeToken({ kind: 'token', id: 'old', expiresAt: clock.seconds - 31 })
  await s.sync.purge()
  t.equal(s.denylist.size, 1, 'expired beyond the leeway: dropped from memory')
  t.same((await store.loadRevocations(0)).revocations, [], 'and from the store')
  store.purgeExpired = async () => { throw new Error('locked') }
  await s.sync.purge()
  t.match(s.lines.at(-1), { level: 'error', msg: 'purging expired sessions failed; retrying' })
})

test('changedByOthers: a "yes" reads the log at once; a failing check stays quiet (the regular poll reports)', async (t) => {
  let answer: boolean | Error = false
  let asked = 0
  class WatchedStore extends MemorySessionStore {
    changedByOthers (): boolean {
      asked++
      if (answer instanceof Error) throw answer
      return answer
    }
  }
  const store = new WatchedStore()
  const watched: SessionStore = store
  const errors: string[] = []
  const log = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { errors.push(JSON.parse(line).msg) } } } }).log
  const denylist = new Denylist()
  const clock = new ManualClock()
  const sync = new RevocationSync({ store: watched, denylist, clock: clock.now, log, leeway: 30, pollIntervalMs: 3_600_000, purgeIntervalMs: 3_600_000, changeCheckIntervalMs: 5 })
  await sync.start()
  t.teardown(() => sync.stop())
  await store.revokeToken({ kind: 'token', id: 'unseen-while-no-000000', expiresAt: clock.seconds + 60 })
  await waitFor('a few checks', () => asked, (n) => n >= 3)
  t.equal(denylist.isRevoked('unseen-while-no-000000', 'f', 's', 0), false, 'no read while the answer is no')
  answer = true
  await waitFor('the revocation after a yes', () => denylist.isRevoked('unseen-while-no-000000', 'f', 's', 0), (revoked) => revoked)
  answer = new Error('database closed')
  const before = asked
  await waitFor('more checks', () => asked, (n) => n >= before + 3)
  t.same(errors, [], 'a failing check logs nothing by itself')
})
