/**
 * WORKERS=2: the standalone service as two processes (node:cluster) on one port over one SQLite file.
 * Each new TCP connection goes to the next worker (the cluster primary hands them out in turn), and every log
 * line carries the pid of the worker that wrote it, so the tests see which worker served what.
 * - Rotation stays one compare-and-set across processes: parallel refreshes presenting one refresh token,
 *   spread over both workers, rotate the family once; the others get that same successor (the grace
 *   replay); an older token presented later is reuse, and the family ends on every worker.
 * - A logout served by one worker is enforced by the other (its delay is printed, not asserted).
 */
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { test } from 'tap'
import { runUsersCli } from '../../src/service/cli/users.js'
import { clusterSettings, workerCount } from '../../src/service/workers.js'
import { tempDir, TEST_PASSWORD, testEnv } from '../helper.js'
import { waitFor } from '../helpers/wait-for.js'
import { runServerToExit, startServer, type RunningServer } from './server-process.js'

interface Answer { status: number, cookies: Record<string, string>, body: string }

/** One request on a connection of its own (no keep-alive), so consecutive requests reach both workers. */
async function send (server: RunningServer, method: string, path: string, cookies: Record<string, string>, body?: unknown): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ')
    const req = httpRequest({
      host: 'localhost',
      port: server.port,
      method,
      path,
      agent: false,
      headers: { ...(cookie === '' ? {} : { cookie }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }
    }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => {
        const set: Record<string, string> = {}
        for (const line of res.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';')
          const at = (pair as string).indexOf('=')
          set[(pair as string).slice(0, at)] = (pair as string).slice(at + 1)
        }
        resolve({ status: res.statusCode as number, cookies: set, body: text })
      })
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

function logLines (server: RunningServer): Array<Record<string, unknown>> {
  return server.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

test('WORKERS parsing', async (t) => {
  t.equal(workerCount(undefined, 4), 1)
  t.equal(workerCount('', 4), 1)
  t.equal(workerCount('auto', 4), 4)
  t.equal(workerCount('3', 4), 3)
  for (const bad of ['0', '-1', '1.5', 'two', '257', '01']) t.equal(workerCount(bad, 4), undefined, bad)
})

test('WORKERS and STORE from the environment, or else from .env, as the primary decides', async (t) => {
  const dotenv = join(tempDir(t), '.env')
  t.same(clusterSettings({}, dotenv), { workers: undefined, store: undefined }, 'no .env: neither set')
  writeFileSync(dotenv, 'WORKERS=3\nSTORE=memory\n')
  t.same(clusterSettings({}, dotenv), { workers: '3', store: 'memory' }, 'from .env')
  t.same(clusterSettings({ WORKERS: '2', STORE: 'redis' }, dotenv), { workers: '2', store: 'redis' }, 'the environment wins')
  t.same(clusterSettings({ WORKERS: '' }, dotenv), { workers: '', store: 'memory' }, 'set empty in the environment: not replaced by .env')
})

test('WORKERS=2 over one SQLite file: rotation atomic across workers, revocations enforced by both', async (t) => {
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t), WORKERS: '2', LOG_LEVEL: 'info' })
  const code = await runUsersCli(['add', 'alice', '--password-stdin'], { stdin: Readable.from([TEST_PASSWORD]), out: () => {}, log: { write: () => {} }, env })
  t.equal(code, 0, 'user added')
  const server = await startServer(t, env)
  await waitFor('both workers to listen', () => server.output().match(/Server listening at/g)?.length ?? 0, (n) => n === 2)
  const workerPids = new Set(logLines(server).filter((l) => String(l['msg']).startsWith('Server listening')).map((l) => l['pid']))
  t.equal(workerPids.size, 2, 'two worker processes')

  const login = await send(server, 'POST', '/auth/login', {}, { username: 'alice', password: TEST_PASSWORD })
  t.equal(login.status, 200, 'logged in')
  const refreshName = Object.keys(login.cookies).find((n) => n.endsWith('refresh')) as string
  const accessName = Object.keys(login.cookies).find((n) => n.endsWith('session')) as string
  const first = { [refreshName]: login.cookies[refreshName] as string }

  const parallel = await Promise.all(Array.from({ length: 12 }, async () => await send(server, 'POST', '/auth/refresh', first)))
  t.same(parallel.map((a) => a.status), Array(12).fill(200), 'every parallel refresh answered')
  // The workers' log lines reach us through a pipe, a moment after the answers.
  const refreshes = await waitFor('the 12 refresh audit lines', () => logLines(server).filter((l) => l['audit'] === 'refresh.succeeded'), (lines) => lines.length >= 12)
  t.equal(refreshes.length, 12)
  t.equal(new Set(refreshes.map((l) => l['pid'])).size, 2, 'the parallel refreshes were served by both workers')
  t.equal(refreshes.filter((l) => l['replayed'] === false).length, 1, 'exactly one rotation')
  t.same(new Set(refreshes.map((l) => l['generation'])), new Set([1]), 'one successor: every answer is generation 1')
  const successors = new Set(parallel.map((a) => a.cookies[refreshName]))
  const second = { [refreshName]: parallel[0]?.cookies[refreshName] as string }
  const access = { [accessName]: parallel[0]?.cookies[accessName] as string }

  // One more rotation makes the first token two generations old: presenting it is reuse, on any worker.
  const third = await send(server, 'POST', '/auth/refresh', second)
  t.equal(third.status, 200, 'the successor rotates')
  const reuse = await send(server, 'POST', '/auth/refresh', first)
  t.equal(reuse.status, 401, 'the first token again: reuse detected')
  await waitFor('reuse detected in the log', () => logLines(server).some((l) => l['audit'] === 'refresh.reuse_detected'), (found) => found)
  const after = { [refreshName]: third.cookies[refreshName] as string }
  for (let i = 0; i < 4; i++) {
    t.equal((await send(server, 'POST', '/auth/refresh', after)).status, 401, `the family is over for every worker (${i})`)
  }
  t.comment(`${successors.size} distinct successor cookie(s) among 12 answers (the same pair re-encrypted counts as different bytes)`)

  // A logout served by one worker, then checks spread over both until each refuses.
  const fresh = await send(server, 'POST', '/auth/login', {}, { username: 'alice', password: TEST_PASSWORD })
  const session = { [accessName]: fresh.cookies[accessName] as string }
  for (let i = 0; i < 2; i++) t.equal((await send(server, 'GET', '/auth/session', session)).status, 200, 'live on both workers')
  t.equal((await send(server, 'POST', '/auth/logout', session)).status, 204, 'logged out')
  const loggedOutAt = performance.now()
  await waitFor('both workers to refuse the ended session', async () => {
    const a = await send(server, 'GET', '/auth/session', session)
    const b = await send(server, 'GET', '/auth/session', session)
    return a.status === 401 && b.status === 401
  }, (both) => both, 10_000, 1)
  t.comment(`both workers refused the ended session ${(performance.now() - loggedOutAt).toFixed(0)} ms after the logout answered`)
  t.equal((await send(server, 'GET', '/auth/session', access)).status, 401, 'the reused family\'s access token is refused too')

  t.equal(await server.stop(), 0, 'SIGTERM stops the primary and its workers cleanly')
})

test('WORKERS=2 with STORE=memory is refused before anything starts', async (t) => {
  await t.rejects(startServer(t, { STORE: 'memory', WORKERS: '2' }), /WORKERS above 1 needs a store the workers share/)
})

test('WORKERS=2 with a setting only the workers refuse: the service stops with exit 1, not a restart loop', async (t) => {
  // The primary checks the settings it reads itself; DATA_DIR is checked by each worker as it builds the app.
  const file = join(tempDir(t), 'a-file')
  writeFileSync(file, '')
  const { code, stdout, stderr } = await runServerToExit({ STORE: 'sqlite', DATA_DIR: file, WORKERS: '2' })
  t.equal(code, 1, 'a supervisor sees the failure')
  if (code !== 1) t.comment(stdout + stderr)
  t.match(stderr, `error: DATA_DIR "${file}" cannot be used (it is a file, not a directory)`, 'the worker\'s line')
  const primary = logLines({ output: () => stdout } as RunningServer).map((l) => String(l['msg']))
  t.equal(primary.filter((m) => / exited \(1\) before it served: stopping the service$/.test(m)).length, 1, 'the primary says it stops')
  t.notOk(primary.some((m) => m.includes('starting another')), 'no worker started in its place')
  t.notMatch(stdout, 'Server listening')
})

test('WORKERS=2 with PORT in use: the one line of a single process, once, and exit 1', async (t) => {
  const busy = createServer()
  busy.listen(0, '127.0.0.1')
  await once(busy, 'listening')
  t.teardown(() => { busy.close() })
  const port = (busy.address() as AddressInfo).port
  const { code, stdout, stderr } = await runServerToExit({ STORE: 'sqlite', DATA_DIR: tempDir(t), WORKERS: '2', HOST: '127.0.0.1', PORT: String(port) })
  t.equal(code, 1, 'a supervisor sees the failure')
  t.equal(stderr, `error: PORT ${port} is already in use on 127.0.0.1: stop the other process or choose another PORT\n`, 'the documented line, once')
  t.notMatch(stdout, /EADDRINUSE|"stack"|before it served/, 'no stack trace, no worker failure')
})

test('WORKERS=2: a worker that dies while serving is replaced, and the service goes on; SIGTERM twice stops it once', async (t) => {
  const server = await startServer(t, { STORE: 'sqlite', DATA_DIR: tempDir(t), WORKERS: '2' })
  const listening = (): Array<Record<string, unknown>> => logLines(server).filter((l) => String(l['msg']).startsWith('Server listening'))
  await waitFor('both workers to listen', listening, (lines) => lines.length === 2)
  const [victim, survivor] = listening().map((l) => l['pid'] as number)
  process.kill(victim as number, 'SIGKILL')
  const replaced = await waitFor('a third worker to listen', listening, (lines) => lines.length === 3)
  const fresh = replaced[2]?.['pid']
  t.not(fresh, victim, 'a new process')
  t.not(fresh, survivor)
  const primary = logLines(server).filter((l) => l['pid'] !== victim && l['pid'] !== survivor && l['pid'] !== fresh).map((l) => String(l['msg']))
  t.ok(primary.includes(`worker ${String(victim)} exited (SIGKILL); starting another`), primary.join('\n'))
  t.notOk(primary.some((m) => m.includes('before it served')), 'not taken for a bad configuration')
  for (let i = 0; i < 4; i++) t.equal((await send(server, 'GET', '/auth/session/status', {})).status, 200, `answered (${i})`)
  server.child.kill('SIGTERM')
  t.equal(await server.stop(), 0, 'a second SIGTERM changes nothing: the workers close, the primary exits 0')
})
