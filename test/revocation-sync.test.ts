import Fastify from 'fastify'
import { test } from 'tap'
import { Denylist } from '../src/denylist.js'
import { RevocationSync } from '../src/revocation-sync.js'
import { MemorySessionStore } from '../src/stores/memory-session-store.js'
import type { SessionStore } from '../src/stores/session-store.js'
import { ManualClock } from './helper.js'

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
