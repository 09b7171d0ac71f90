import { Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import type { Revocation } from '../../src/stores/session-store.js'
import { newId } from '../../src/common/random-id.js'
import { RedisSessionStore } from '../../src/stores/redis-session-store.js'
import { decideRotation, familyRevocation, rotatedFamily, type RotationRequest } from '../../src/stores/session-store.js'
import { startRedis } from '../helpers/redis-server.js'
import { redisClient, redisStore, uniquePrefix } from '../helpers/redis-stores.js'
import { waitFor } from '../helpers/wait-for.js'
import { create, family, storeContract } from './contract.js'

test('Redis store contract (a real redis-server)', async (t) => {
  const redis = await startRedis(t)
  storeContract(t, {
    open: async (t) => await redisStore(t, redis.url, { keyPrefix: uniquePrefix() }),
    openPair: async (t) => {
      const keyPrefix = uniquePrefix()
      return [await redisStore(t, redis.url, { keyPrefix }), await redisStore(t, redis.url, { keyPrefix })]
    }
  })
})

const NOW = 1_800_000_000

function tokenRevocation (expiresAt = NOW + 60): Extract<Revocation, { kind: 'token' }> {
  return { kind: 'token', id: newId(), expiresAt }
}

test('Redis store: the revocation log follows the data set it belongs to', async (t) => {
  const redis = await startRedis(t)

  t.test('a cursor that is not one of this store is refused as a lost log', async (t) => {
    const store = await redisStore(t, redis.url, { keyPrefix: uniquePrefix() })
    for (const cursor of ['0', '', 'abc:1-0', `${'f'.repeat(32)}:x`]) {
      await t.rejects(store.revocationsSince(cursor), { code: 'ERR_REVOCATION_LOG_LOST' }, JSON.stringify(cursor))
    }
  })

  t.test('a flushed Redis is noticed: the old cursor is refused, a new epoch starts', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix })
    await store.revokeToken(tokenRevocation())
    const before = await store.loadRevocations(NOW)
    const client = await redisClient(t, redis.url)
    for (const key of await client.keys(`${keyPrefix}*`)) await client.del(key)
    await t.rejects(store.revocationsSince(before.cursor), { code: 'ERR_REVOCATION_LOG_LOST' })
    const after = await store.loadRevocations(NOW)
    t.same(after.revocations, [], 'the new data set is empty')
    t.not(after.cursor.split(':')[0], before.cursor.split(':')[0], 'under a new epoch')
    t.same(await store.revocationsSince(after.cursor), { revocations: [], cursor: after.cursor })
  })

  t.test('a log that went back in time (or vanished) under the same epoch is lost too', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix })
    const client = await redisClient(t, redis.url)
    const { cursor } = await store.loadRevocations(NOW)
    const epoch = cursor.split(':')[0] as string
    const log = `${keyPrefix}revocations`
    await client.xadd(log, '2000-5', 'k', 'token', 'i', 'x', 'e', String(NOW))
    const cases: Array<[string, string, boolean]> = [
      ['1999-9', 'an older entry id', false],
      ['2000-4', 'the same millisecond, lower sequence', false],
      ['2000-5', 'the last entry itself', false],
      ['2000-6', 'a later sequence than the log ever reached', true],
      ['10000-0', 'a longer (later) millisecond', true],
      ['999-0', 'a shorter (earlier) millisecond', false]
    ]
    for (const [after, what, lost] of cases) {
      const result = store.revocationsSince(`${epoch}:${after}`)
      if (lost) await t.rejects(result, { code: 'ERR_REVOCATION_LOG_LOST' }, what)
      else await t.resolves(result, what)
    }
    await client.del(log)
    await t.rejects(store.revocationsSince(`${epoch}:2000-5`), { code: 'ERR_REVOCATION_LOG_LOST' }, 'the stream is gone')
    await t.resolves(store.revocationsSince(`${epoch}:0-0`), 'nothing read yet: nothing to lose')
  })

  t.test('more than one read batch: loading, following and purging go through all of it', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix })
    const client = await redisClient(t, redis.url)
    const start = await store.loadRevocations(NOW)
    const pipeline = client.pipeline()
    for (let i = 0; i < 2500; i++) pipeline.xadd(`${keyPrefix}revocations`, '*', 'k', 'token', 'i', `t${i}`, 'e', String(i < 2200 ? NOW - 1 : NOW + 60))
    await pipeline.exec()
    t.equal((await store.loadRevocations(0)).revocations.length, 2500, 'loaded in several reads')
    t.equal((await store.loadRevocations(NOW)).revocations.length, 300, 'the live ones')
    let cursor = start.cursor
    let followed = 0
    for (;;) {
      const batch = await store.revocationsSince(cursor)
      followed += batch.revocations.length
      if (batch.cursor === cursor) break
      cursor = batch.cursor
    }
    t.equal(followed, 2500, 'followed in several reads')
    await store.purgeExpired(NOW)
    t.equal(await client.xlen(`${keyPrefix}revocations`), 300, 'purged in several passes')
    await store.purgeExpired(NOW + 61)
    t.equal(await client.xlen(`${keyPrefix}revocations`), 0, 'everything expired goes')
    await t.resolves(store.revocationsSince(cursor), 'a cursor into a purged log stays valid')
    await store.revokeToken(tokenRevocation())
    t.equal((await store.revocationsSince(cursor)).revocations.length, 1, 'and sees what comes next')
  })

  t.test('restoring revocations appends them to the log', async (t) => {
    const store = await redisStore(t, redis.url, { keyPrefix: uniquePrefix() })
    const revocations: Revocation[] = [
      tokenRevocation(),
      { kind: 'family', id: newId(), expiresAt: NOW + 10 },
      { kind: 'subject', id: 'user-9', notBefore: NOW - 5, expiresAt: NOW + 20 }
    ]
    await store.restoreRevocations(revocations)
    t.same((await store.loadRevocations(NOW)).revocations, revocations)
  })

  t.test('families and subject sets expire in Redis a while after their last token', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix, retentionSeconds: 100 })
    const client = await redisClient(t, redis.url)
    const f = family({ rotatedAt: NOW, refreshExpiresAt: NOW + 1000, accessExpiresAt: NOW + 60, userAgent: null })
    await create(store, f)
    t.ok(Math.abs(await client.ttl(`${keyPrefix}family:${f.id}`) - 1100) <= 2, 'family: 1000 s of life left + 100 s retention')
    t.ok(Math.abs(await client.ttl(`${keyPrefix}subject-families:user-1`) - 1100) <= 2, 'subject set: the same')
    t.same(await store.listFamilies('user-1', NOW), [f], 'a null user agent round-trips')
    await client.del(`${keyPrefix}family:${f.id}`)
    t.same(await store.listFamilies('user-1', NOW), [], 'a family whose hash expired is not listed')
    t.same(await client.smembers(`${keyPrefix}subject-families:user-1`), [], 'and leaves the subject set')
  })

  t.test('the record of a subject revocation: its log id, under the subject\'s hash tag, kept until it expires', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix, retentionSeconds: 100 })
    const client = await redisClient(t, redis.url)
    const key = `${keyPrefix}subject-revoked:{user-1}`
    t.equal(await store.revocationMark(), '0-0', 'before the log exists')
    await store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 1000 }, NOW)
    const [logId] = (await client.xrange(`${keyPrefix}revocations`, '-', '+'))[0] ?? []
    t.equal(await client.get(key), logId, 'the log id of the subject revocation')
    t.equal(await store.revocationMark(), logId, 'the mark is the last log id')
    t.ok(Math.abs(await client.ttl(key) - 1100) <= 2, '1000 s of life left + 100 s retention')
    await store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 10 }, NOW)
    t.ok(Math.abs(await client.ttl(key) - 1100) <= 2, 'a shorter-lived revocation later does not shorten it')
    await store.purgeExpired(NOW + 5000)
    t.not(await store.revocationMark(), '0-0', 'the mark stays after the log is trimmed empty')
  })

  t.test('a rotation handing the family to another user id moves it to that subject', async (t) => {
    const store = await redisStore(t, redis.url, { keyPrefix: uniquePrefix() })
    const f = family()
    await create(store, f)
    const other = { id: 'user-2', username: 'two', roles: [] }
    const result = await store.rotate({
      familyId: f.id,
      subject: 'user-1',
      presentedJti: f.refreshJti,
      now: NOW,
      graceSeconds: 10,
      next: { refreshJti: newId(), accessJti: newId(), refreshExpiresAt: NOW + 100, accessExpiresAt: NOW + 10, user: other }
    })
    t.same(result.outcome === 'rotated' && result.family.user, other)
    t.same(await store.listFamilies('user-1', NOW), [])
    t.equal((await store.listFamilies('user-2', NOW)).length, 1)
  })

  t.test('works with a client made without the service\'s options', async (t) => {
    const client = new Redis(redis.url)
    t.teardown(() => { client.disconnect() })
    const store = new RedisSessionStore({ client })
    t.teardown(async () => { await store.close() })
    const { cursor } = await store.loadRevocations(NOW)
    const controller = new AbortController()
    const batch = await store.waitForRevocations(cursor, 10, controller.signal)
    t.same(batch, { revocations: [], cursor, complete: true })
  })
})

test('Redis store: the push feed', async (t) => {
  const redis = await startRedis(t)

  t.test('a revocation written by another store wakes the blocked read at once', async (t) => {
    const keyPrefix = uniquePrefix()
    const follower = await redisStore(t, redis.url, { keyPrefix })
    const writer = await redisStore(t, redis.url, { keyPrefix })
    const { cursor } = await follower.loadRevocations(NOW)
    const revocation = tokenRevocation()
    const waiting = follower.waitForRevocations(cursor, 1000, new AbortController().signal)
    await sleep(50)
    const started = Date.now()
    await writer.revokeToken(revocation)
    const batch = await waiting
    t.same(batch.revocations, [revocation])
    t.equal(batch.complete, true)
    t.ok(Date.now() - started < 900, 'before the block timeout')
    t.same(await follower.revocationsSince(cursor), { revocations: [revocation], cursor: batch.cursor }, 'the same cursor as a plain read')
  })

  t.test('nothing new: an empty, complete batch after the timeout; a full batch says more is waiting', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix })
    const { cursor } = await store.loadRevocations(NOW)
    t.same(await store.waitForRevocations(cursor, 20, new AbortController().signal), { revocations: [], cursor, complete: true })
    const client = await redisClient(t, redis.url)
    const pipeline = client.pipeline()
    for (let i = 0; i < 1001; i++) pipeline.xadd(`${keyPrefix}revocations`, '*', 'k', 'token', 'i', `t${i}`, 'e', String(NOW))
    await pipeline.exec()
    const first = await store.waitForRevocations(cursor, 20, new AbortController().signal)
    t.equal(first.revocations.length, 1000)
    t.equal(first.complete, false)
    const second = await store.waitForRevocations(first.cursor, 20, new AbortController().signal)
    t.equal(second.revocations.length, 1)
    t.equal(second.complete, true)
  })

  t.test('after Redis forgot its scripts (a restart), the feed sends its check in full', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix })
    const writer = await redisStore(t, redis.url, { keyPrefix })
    const { cursor } = await store.loadRevocations(NOW)
    const client = await redisClient(t, redis.url)
    await client.script('FLUSH')
    const revocation = tokenRevocation()
    await writer.revokeToken(revocation)
    t.same((await store.waitForRevocations(cursor, 20, new AbortController().signal)).revocations, [revocation])
    await client.del(`${keyPrefix}epoch`)
    await client.script('FLUSH')
    await t.rejects(store.waitForRevocations(cursor, 20, new AbortController().signal), { code: 'ERR_REVOCATION_LOG_LOST' }, 'and still notices a loss')
  })

  t.test('a lost data set is reported by the feed too', async (t) => {
    const keyPrefix = uniquePrefix()
    const store = await redisStore(t, redis.url, { keyPrefix })
    const { cursor } = await store.loadRevocations(NOW)
    const client = await redisClient(t, redis.url)
    await client.del(`${keyPrefix}epoch`)
    await t.rejects(store.waitForRevocations(cursor, 20, new AbortController().signal), { code: 'ERR_REVOCATION_LOG_LOST' })
  })

  t.test('an abort ends the wait at once; a closed store refuses to wait', async (t) => {
    const store = await redisStore(t, redis.url, { keyPrefix: uniquePrefix() })
    const { cursor } = await store.loadRevocations(NOW)
    const controller = new AbortController()
    const waiting = store.waitForRevocations(cursor, 1000, controller.signal)
    const started = Date.now()
    controller.abort(new Error('stopping'))
    await t.rejects(waiting, { message: 'stopping' })
    t.ok(Date.now() - started < 500)
    await t.rejects(store.waitForRevocations(cursor, 10, controller.signal), { message: 'stopping' }, 'already aborted')
    await store.close()
    await t.rejects(store.waitForRevocations(cursor, 10, new AbortController().signal), { message: /^Connection is closed/ })
  })

  t.test('a read that times out (Redis hung) fails, and the next read uses a fresh connection', async (t) => {
    const paused = await startRedis(t)
    const client = await redisClient(t, paused.url, 100)
    const store = new RedisSessionStore({ client, keyPrefix: uniquePrefix() })
    t.teardown(async () => { await store.close() })
    const { cursor } = await store.loadRevocations(NOW)
    t.same((await store.waitForRevocations(cursor, 10, new AbortController().signal)).revocations, [], 'the feed connection works')
    const pid = paused.process?.pid as number
    process.kill(pid, 'SIGSTOP')
    t.teardown(() => { try { process.kill(pid, 'SIGCONT') } catch {} })
    await t.rejects(store.waitForRevocations(cursor, 10, new AbortController().signal), { message: 'Command timed out' })
    process.kill(pid, 'SIGCONT')
    await waitFor('the feed to work again', async () => {
      try {
        return (await store.waitForRevocations(cursor, 10, new AbortController().signal)).complete
      } catch {
        return false
      }
    }, (ok) => ok)
    t.pass('it recovered')
  })
})

test('Redis rotation decides exactly like decideRotation', async (t) => {
  const redis = await startRedis(t)
  const store = await redisStore(t, redis.url, { keyPrefix: uniquePrefix() })
  const presented = ['current', 'previous', 'other'] as const
  const ages = [-1, 0, 1, 9, 10, 11, 1000]
  let cases = 0
  for (const exists of [true, false]) {
    for (const revoked of [false, true]) {
      for (const sameSubject of [true, false]) {
        for (const hasPrevious of [true, false]) {
          for (const which of presented) {
            for (const age of ages) {
              for (const grace of [0, 10]) {
                const f = family({
                  rotatedAt: NOW,
                  previousRefreshJti: hasPrevious ? newId() : null,
                  generation: hasPrevious ? 3 : 0,
                  revokedAt: revoked ? NOW - 1 : null
                })
                if (exists) await create(store, f)
                const request: RotationRequest = {
                  familyId: f.id,
                  subject: sameSubject ? f.user.id : 'someone-else',
                  presentedJti: which === 'current' ? f.refreshJti : which === 'previous' ? f.previousRefreshJti ?? newId() : newId(),
                  now: NOW + age,
                  graceSeconds: grace,
                  next: { refreshJti: newId(), accessJti: newId(), refreshExpiresAt: NOW + age + 100, accessExpiresAt: NOW + age + 10 }
                }
                const expected = decideRotation(exists ? f : undefined, request)
                const result = await store.rotate(request)
                const label = JSON.stringify({ exists, revoked, sameSubject, hasPrevious, which, age, grace })
                t.equal(result.outcome, { rotate: 'rotated', replay: 'replayed', reuse: 'reused', reject: 'rejected' }[expected], label)
                if (result.outcome === 'rotated') t.same(result.family, rotatedFamily(f, request), `${label}: the successor`)
                if (result.outcome === 'replayed') t.same(result.family, f, `${label}: the current pair`)
                if (result.outcome === 'reused') {
                  t.same(result.family, { ...f, revokedAt: NOW + age }, `${label}: revoked now`)
                  t.same(result.revocation, familyRevocation(f), `${label}: its revocation`)
                }
                cases++
              }
            }
          }
        }
      }
    }
  }
  t.equal(cases, 2 * 2 * 2 * 2 * 3 * ages.length * 2)
})
