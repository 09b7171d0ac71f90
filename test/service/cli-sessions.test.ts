/**
 * `npm run users -- sessions list|end`: the CLI lists and ends a user's sessions in the store of a running
 * service (its own connection, as on the server), and the service enforces it within its revocation delay:
 * SQLite by polling the file, Redis by the pushed feed. The delays are measured and printed (not asserted:
 * the machine is shared); docs/deployment.md quotes them.
 */
import type { FastifyInstance } from 'fastify'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { test, type Test } from 'tap'
import { runUsersCli, UsageError } from '../../src/service/cli/users.js'
import { addUser, buildTestApp, client, loggedIn, tempDir, TEST_PASSWORD, testEnv, type Client } from '../helper.js'
import { startRedis } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'

const ROUNDS = 10

async function cli (env: Record<string, string>, args: string[]): Promise<string[]> {
  const out: string[] = []
  const code = await runUsersCli(args, { stdin: Readable.from(['']), out: (line) => out.push(line), log: { write: () => {} }, env })
  if (code !== 0) throw new Error(`exit ${code}`)
  return out
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** Milliseconds from the CLI's return until the service refuses the session. */
async function delay (service: FastifyInstance, session: Client, end: () => Promise<unknown>): Promise<number> {
  await end()
  const returned = performance.now()
  await waitFor('the service to refuse the ended session', async () => (await client(service, session.jar).request('GET', '/auth/session')).statusCode, (s) => s === 401, 10_000, 5)
  return performance.now() - returned
}

async function cliSessions (t: Test, env: Record<string, string>, label: string): Promise<void> {
  const service = await buildTestApp(t, { env })
  await addUser(service, 'alice')
  const phone = await loggedIn(t, service, 'alice')
  const laptop = client(service)
  await laptop.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD }, { 'user-agent': 'Laptop/1' })

  const listed = await cli(env, ['sessions', 'list', 'alice'])
  t.equal(listed.length, 2, 'both sessions listed')
  t.match(listed.join('\n'), /^[A-Za-z0-9_-]{22}\tlogin \d{4}-\d\d-\d\dT[\d:.]+Z\tseen \S+\t127\.0\.0\.1\tLaptop\/1$/m)
  const laptopId = (await laptop.request('GET', '/auth/session')).json().session.id as string

  t.same(await cli(env, ['sessions', 'end', 'alice', '--session', laptopId]), [`ended session ${laptopId} of alice`])
  await waitFor('the laptop to be refused', async () => (await laptop.request('GET', '/auth/session')).statusCode, (s) => s === 401)
  t.equal((await phone.request('GET', '/auth/session')).statusCode, 200, 'the other session lives on')
  await t.rejects(cli(env, ['sessions', 'end', 'alice', '--session', laptopId.replace(/^./, laptopId.startsWith('A') ? 'B' : 'A')]), { code: 'ERR_SESSION_NOT_FOUND' })
  t.same(await cli(env, ['sessions', 'end', 'alice']), ['ended every session of alice (1 live)'])
  await waitFor('the phone to be refused', async () => (await phone.request('GET', '/auth/session')).statusCode, (s) => s === 401)
  t.same(await cli(env, ['sessions', 'list', 'alice']), ['no live sessions of alice'])

  const delays: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const session = await loggedIn(t, service, 'alice')
    delays.push(await delay(service, session, async () => await cli(env, ['sessions', 'end', 'alice'])))
  }
  t.comment(`${label}: enforcement delay after the CLI returned, ${ROUNDS} rounds: median ${median(delays).toFixed(0)} ms, max ${Math.max(...delays).toFixed(0)} ms`)
}

test('the CLI lists and ends a user\'s sessions on SQLite; the service enforces it at its next poll', async (t) => {
  await cliSessions(t, testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) }), 'SQLite')
})

test('the CLI lists and ends a user\'s sessions on Redis; the service enforces it as soon as it is pushed', async (t) => {
  const redis = await startRedis(t)
  await cliSessions(t, testEnv({ STORE: 'redis', REDIS_URL: redis.url }), 'Redis')
})

test('sessions: bad usage', async (t) => {
  const env = testEnv({ STORE: 'memory', DATA_DIR: tempDir(t) })
  for (const args of [['sessions'], ['sessions', 'list'], ['sessions', 'show', 'alice'], ['sessions', 'list', 'alice', 'bob'], ['list', '--session', 'x'], ['sessions', 'list', 'alice', '--session', 'x']]) {
    await t.rejects(cli(env, args), UsageError, args.join(' '))
  }
  await t.rejects(cli(env, ['sessions', 'show', 'alice']), { name: 'UsageError', message: /^unknown command "sessions show"\n/ }, 'the unknown sub-command named')
  await t.rejects(cli(env, ['sessions', 'list', 'nobody']), { code: 'ERR_USER_NOT_FOUND' })
  await t.rejects(cli(env, ['sessions', 'end', 'alice', '--session']), UsageError, '--session without a value')
})

test('sessions end --session takes an id that begins with "-" (one in 64 does)', async (t) => {
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) })
  const service = await buildTestApp(t, { env })
  await addUser(service, 'alice')
  for (const id of ['-AbCdEfGhIjKlMnOpQrStUv', '--bCdEfGhIjKlMnOpQrStUv']) {
    // The id reaches the store, which knows no such session: not a usage error about a missing value.
    await t.rejects(cli(env, ['sessions', 'end', 'alice', '--session', id]), { code: 'ERR_SESSION_NOT_FOUND' }, `--session ${id}`)
    await t.rejects(cli(env, ['sessions', 'end', 'alice', `--session=${id}`]), { code: 'ERR_SESSION_NOT_FOUND' }, `--session=${id}`)
  }
})
