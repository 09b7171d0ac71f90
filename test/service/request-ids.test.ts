/**
 * Request ids (`reqId` in the logs) tell apart the requests of different workers and runs: a random prefix per
 * app and a counter, never Fastify's `req-1`, `req-2`... that every worker and every start repeats, and never
 * an id the client sends.
 */
import { test } from 'tap'
import { randomPrefix, requestIds } from '../../src/service/request-ids.js'
import { buildTestApp } from '../helper.js'
import { LogCapture } from '../security/kit.js'

const ID = /^([0-9a-z]{10})-([0-9a-z]+)$/

test('request ids repeat neither across apps (two workers, or two starts) nor within one; a client\'s id is ignored', async (t) => {
  const ids: string[][] = []
  for (const worker of [1, 2]) {
    const logs = new LogCapture()
    const app = await buildTestApp(t, { env: { LOG_LEVEL: 'info' }, logger: logs.logger('info') })
    for (let i = 0; i < 3; i++) {
      await app.inject({ method: 'GET', url: '/healthz', headers: { 'request-id': 'chosen-by-client', 'x-request-id': 'chosen-by-client' } })
    }
    const seen = logs.records.filter((r) => r['msg'] === 'incoming request').map((r) => r['reqId'] as string)
    t.equal(seen.length, 3, `worker ${worker}: three requests logged`)
    for (const id of seen) t.match(id, ID, `worker ${worker}: ${id} is a prefix and a counter`)
    t.equal(new Set(seen.map((id) => ID.exec(id)?.[1])).size, 1, `worker ${worker}: one prefix per app`)
    t.same(seen.map((id) => ID.exec(id)?.[2]), ['1', '2', '3'], `worker ${worker}: the counter counts`)
    ids.push(seen)
  }
  const all = ids.flat()
  t.equal(new Set(all).size, all.length, 'no id of one app is an id of the other')
  t.notOk(all.some((id) => id.includes('chosen-by-client') || id.startsWith('req-')), 'neither a client\'s id nor Fastify\'s req-N')
})

test('the generator: one prefix, a base-36 counter; prefixes are random', async (t) => {
  const next = requestIds('abcdefghij')
  t.same(Array.from({ length: 11 }, () => next()), ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b'].map((n) => `abcdefghij-${n}`))
  const prefixes = Array.from({ length: 1000 }, () => randomPrefix())
  t.ok(prefixes.every((p) => /^[0-9a-z]{10}$/.test(p)), 'ten characters of [0-9a-z]')
  t.equal(new Set(prefixes).size, prefixes.length, 'no two alike in a thousand')
})
