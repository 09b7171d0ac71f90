/**
 * The cross-tab lock: Web Locks when present, else an election over Node's real BroadcastChannel (which
 * behaves as a browser's does between tabs), else a queue inside one tab.
 */
import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { createTabLock, type ChannelLike, type TabLockOptions } from '../../src/client/tab-lock.js'
import { FakeLocks } from './fake-browser.js'

const realTimers = {
  now: Date.now,
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void => { clearTimeout(handle as NodeJS.Timeout) }
}

/** A task that records when it runs and finishes after `ms`. */
function recorder (): { log: string[], task: (name: string, ms?: number) => (waited: boolean) => Promise<string> } {
  const log: string[] = []
  return {
    log,
    task: (name, ms = 20) => async (waited) => {
      log.push(`${name} start${waited ? ' (waited)' : ''}`)
      await new Promise((resolve) => setTimeout(resolve, ms))
      log.push(`${name} end`)
      return name
    }
  }
}

test('Web Locks: tasks run one at a time, and a task knows when it had to wait', async (t) => {
  const locks = new FakeLocks()
  const one = createTabLock({ name: 'x', locks, ...realTimers })
  const two = createTabLock({ name: 'x', locks, ...realTimers })
  const { log, task } = recorder()
  t.same(await Promise.all([one.run(task('a')), two.run(task('b')), one.run(task('c'))]), ['a', 'b', 'c'])
  t.same(log, ['a start', 'a end', 'b start (waited)', 'b end', 'c start (waited)', 'c end'])
  t.equal(await one.run(async (waited) => waited), false, 'free again')
  one.close()
  two.close()
})

test('no Web Locks, no channel: a queue inside the tab', async (t) => {
  const lock = createTabLock({ name: 'x', ...realTimers })
  const { log, task } = recorder()
  const failing = lock.run(async () => { throw new Error('boom') })
  const results = await Promise.allSettled([failing, lock.run(task('a')), lock.run(task('b'))])
  t.same(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled'])
  t.same(log, ['a start (waited)', 'a end', 'b start (waited)', 'b end'], 'a failed task releases the lock')
  t.equal(await lock.run(async (waited) => waited), false)
  lock.close()
})

function channelLock (name: string, extra: Partial<TabLockOptions> = {}): ReturnType<typeof createTabLock> {
  return createTabLock({ name, channel: (n) => new BroadcastChannel(n), settleMs: 30, maxHoldMs: 2000, ...realTimers, ...extra })
}

test('BroadcastChannel fallback: tabs take turns', async (t) => {
  const name = randomUUID()
  const tabs = [channelLock(name), channelLock(name), channelLock(name)]
  t.teardown(() => { for (const tab of tabs) tab.close() })
  const { log, task } = recorder()
  const names = await Promise.all(tabs.map(async (tab, i) => await tab.run(task(`tab${i}`, 40))))
  t.same(names, ['tab0', 'tab1', 'tab2'])
  // Never two tasks at once: every start is followed by its own end.
  for (let i = 0; i < log.length; i += 2) {
    t.match(log[i], / start/)
    t.equal(log[i + 1], `${(log[i] as string).split(' ')[0] as string} end`)
  }
  t.equal(log.filter((line) => line.includes('(waited)')).length, 2, 'two of the three waited')
})

test('BroadcastChannel fallback: a tab that arrives while another holds the lock waits for its release', async (t) => {
  const name = randomUUID()
  const one = channelLock(name)
  const two = channelLock(name)
  t.teardown(() => { one.close(); two.close() })
  const { log, task } = recorder()
  const first = one.run(task('one', 150))
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.same(log, ['one start'])
  await Promise.all([first, two.run(task('two'))])
  t.same(log, ['one start', 'one end', 'two start (waited)', 'two end'])
})

test('BroadcastChannel fallback: a claim of a tab that died holding the lock goes stale', async (t) => {
  const name = randomUUID()
  const ghost = new BroadcastChannel(name)
  const lock = channelLock(name, { maxHoldMs: 200 })
  t.teardown(() => { ghost.close(); lock.close() })
  ghost.postMessage({ type: 'claim', claim: { id: 'ghost', at: Date.now() } })
  // Noise on the channel is ignored.
  for (const noise of [null, 'claim', { type: 'claim' }, { type: 'claim', claim: { id: 1, at: 'x' } }, { type: 'other', claim: { id: 'z', at: 1 } }]) {
    ghost.postMessage(noise)
  }
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = Date.now()
  t.equal(await lock.run(async (waited) => waited), true, 'it waited')
  t.ok(Date.now() - started >= 150, 'until the claim went stale')
})

test('BroadcastChannel fallback: of two claims at the same moment the earlier wins, the other waits', async (t) => {
  const name = randomUUID()
  const listener = new BroadcastChannel(name)
  const messages: unknown[] = []
  listener.addEventListener('message', (event) => { messages.push(event.data) })
  // Both tabs read the same frozen time, so the claim ids decide.
  const now = Date.now()
  const one = channelLock(name, { now: () => now })
  const two = channelLock(name, { now: () => now })
  t.teardown(() => { listener.close(); one.close(); two.close() })
  const { log, task } = recorder()
  const results = await Promise.all([one.run(task('one')), two.run(task('two'))])
  t.same(results, ['one', 'two'])
  t.equal(log.filter((l) => l.endsWith('start') || l.endsWith('(waited)')).length, 2)
  t.notOk(log[1]?.includes('start'), 'never overlapping')
  const claims = messages.filter((m) => (m as { type: string }).type === 'claim').length
  t.ok(claims >= 3, `the loser claimed again after the winner's release (${claims} claims)`)
})

test('alone on the channel: no waiting; close() leaves the channel', async (t) => {
  const closed: string[] = []
  const channel: ChannelLike = {
    postMessage: () => {},
    addEventListener: () => {},
    close: () => { closed.push('closed') }
  }
  const lock = createTabLock({ name: 'x', channel: () => channel, settleMs: 5, ...realTimers })
  t.equal(await lock.run(async (waited) => waited), false, 'alone: no waiting')
  lock.close()
  t.same(closed, ['closed'])
})

test('a task that outlives close() still finishes', async (t) => {
  const lock = channelLock(randomUUID())
  const result = await lock.run(async () => {
    lock.close()
    return 'done'
  })
  t.equal(result, 'done', 'its release is not posted to the closed channel')
})
