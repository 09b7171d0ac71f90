/**
 * Two instances of the service over a three-primary Redis Cluster (REDIS_CLUSTER_NODES): a session opened on
 * one is served by the other, a logout on one is enforced on the other through the revocation feed, refreshes
 * across instances keep one chain, ending a user's sessions reaches both, and the rate-limit counters and users
 * are shared.
 */
import type { FastifyInstance } from 'fastify'
import type { Cluster } from 'ioredis'
import { test, type Test } from 'tap'
import { accountKey } from '../../src/http/rate-limits.js'
import { closeRedis, connectRedis, parseRedisAddress } from '../../src/stores/redis-client.js'
import { addUser, buildTestApp, client, loggedIn, TEST_PASSWORD } from '../helper.js'
import { captureLogs } from '../helpers/log-capture.js'
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'
import { waitFor } from '../helpers/wait-for.js'
import { joseOpen } from '../tokens/token-kit.js'

const ACCESS = '__Host-session'

async function instance (t: Test, cluster: RedisCluster, env: Record<string, string> = {}): Promise<{ app: FastifyInstance, lines: Array<Record<string, unknown>> }> {
  const logs = captureLogs()
  const app = await buildTestApp(t, { env: { STORE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, LOG_LEVEL: 'info', ...env }, logger: logs.logger })
  return { app, lines: logs.lines }
}

async function sessionStatus (app: FastifyInstance, access: string | undefined): Promise<number> {
  return (await app.inject({ url: '/auth/session', headers: { cookie: `${ACCESS}=${access ?? ''}` } })).statusCode
}

test('two instances over a Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(t)
  const a = await instance(t, cluster)
  const b = await instance(t, cluster)
  t.match(a.lines.find((l) => l['msg'] === 'session store opened'), { location: `cluster ${cluster.nodes} (keys session:*)` }, 'the startup line names the cluster')

  for (let i = 0; i < 6; i++) await addUser(a.app, `user-${i}`)
  const sessions = []
  for (let i = 0; i < 6; i++) sessions.push(await loggedIn(t, i % 2 === 0 ? a.app : b.app, `user-${i}`))
  for (const s of sessions) t.equal((await client(b.app, s.jar).request('GET', '/auth/session')).statusCode, 200, 'B serves every session, whichever node holds its user')

  const [first, second, third] = sessions as [typeof sessions[0], typeof sessions[0], typeof sessions[0]]
  const access = first.jar.get(ACCESS)
  t.equal((await client(b.app, first.jar).request('POST', '/auth/logout')).statusCode, 204, 'logout on B')
  await waitFor('A to refuse the logged-out access token', async () => await sessionStatus(a.app, access), (s) => s === 401)
  t.pass('A refuses it: the revocation came through the log on its slot')

  const results = await Promise.all([a.app, b.app, a.app, b.app].map(async (app) => await client(app, second.jar.clone()).request('POST', '/auth/refresh')))
  t.same(results.map((r) => r.statusCode), [200, 200, 200, 200], 'parallel refreshes through both instances')
  const successors = await Promise.all(results.map(async (r) => (await joseOpen(r.headers['set-cookie']?.toString().match(/__Secure-refresh=([^;]+)/)?.[1] ?? '', 'refresh')).claims.jti))
  t.equal(new Set(successors).size, 1, 'one successor (refresh token id) for all of them: one chain')

  const thirdAccess = third.jar.get(ACCESS)
  t.equal((await client(a.app, third.jar.clone()).request('POST', '/auth/logout-all')).statusCode, 204, 'logout everywhere on A')
  await waitFor('B to refuse the user\'s sessions', async () => await sessionStatus(b.app, thirdAccess), (s) => s === 401)
  t.pass('B refuses them')

  const limited = await instance(t, cluster, { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '2' })
  const limitedB = await instance(t, cluster, { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '2' })
  const statuses = []
  for (const app of [limited.app, limitedB.app, limited.app]) {
    statuses.push((await client(app).request('POST', '/auth/login', { username: 'user-5', password: 'wrong password here' })).statusCode)
  }
  t.same(statuses, [401, 401, 429], 'the failed-login counter is shared through the cluster')
  const admin = await connectRedis({ url: 'redis://', commandTimeoutMs: 1000, clusterNodes: cluster.nodes.split(',').map(parseRedisAddress) }) as Cluster
  t.teardown(async () => { await closeRedis(admin) })
  const counters = (await Promise.all(admin.nodes('master').map(async (node) => await node.keys('session:rate-limit:*')))).flat().sort()
  t.same(counters.filter((key) => key.startsWith('session:rate-limit:login-')), [`session:rate-limit:login-account:${accountKey('user-5')}`, 'session:rate-limit:login-ip:127.0.0.1'], 'the counters\' keys say what they count')
  t.same(counters.filter((key) => !/^session:rate-limit:(login-account|login-ip|refresh-ip):[^:]/.test(key)), [], 'every one of them')
  t.equal((await client(limitedB.app).request('POST', '/auth/login', { username: 'user-4', password: TEST_PASSWORD })).statusCode, 200)
})

test('the node holding the revocation log stops answering: fail closed past the staleness limit, then catch up', async (t) => {
  const cluster = await startRedisCluster(t)
  const admin = await connectRedis({ url: 'redis://', commandTimeoutMs: 1000, clusterNodes: cluster.nodes.split(',').map(parseRedisAddress) }) as Cluster
  t.teardown(async () => { await closeRedis(admin) })
  const nodeOf = async (key: string): Promise<string> => admin.slots[await admin.call('CLUSTER', 'KEYSLOT', key) as number]?.[0] ?? ''
  const logNode = await nodeOf('session:{log}:revocations')
  const env = { REDIS_MAX_STALENESS_SECONDS: '2' }
  const a = await instance(t, cluster, env)
  const b = await instance(t, cluster, env)
  // A user whose keys live on another node than the log.
  let username = ''
  for (let i = 0; username === ''; i++) {
    const id = await addUser(a.app, `user-${i}`)
    if (await nodeOf(`session:{${id}}:families`) !== logNode) username = `user-${i}`
  }
  const session = await loggedIn(t, a.app, username, TEST_PASSWORD)
  const access = session.jar.get(ACCESS)
  const paused = cluster.processes[cluster.ports.indexOf(Number(logNode.split(':')[1]))]
  const pid = paused?.pid as number
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => { try { process.kill(pid, 'SIGCONT') } catch {} })

  const logout = await client(a.app, session.jar.clone()).request('POST', '/auth/logout')
  t.equal(logout.statusCode, 503, 'logout: revoked in the user\'s slot, but the log cannot take it: not acknowledged')
  await waitFor('B to refuse sessions once its view is stale', async () => await sessionStatus(b.app, access), (s) => s === 503, 15_000)
  t.equal((await b.app.inject({ url: '/auth/session', headers: { cookie: `${ACCESS}=${access ?? ''}` } })).json().code, 'ERR_SESSION_STORE_STALE', 'fail closed')

  process.kill(pid, 'SIGCONT')
  await waitFor('A to answer the retried logout', async () => (await client(a.app, session.jar.clone()).request('POST', '/auth/logout')).statusCode, (s) => s === 204, 20_000)
  // B may serve again before the retried logout reaches the log (the first one was answered 503: not
  // acknowledged, so not yet promised); once A acknowledges it, B refuses the token within the propagation
  // delay, not after its staleness limit (2 s), when it would answer 503 instead.
  await waitFor('B to refuse the token', async () => await sessionStatus(b.app, access), (s) => s === 401, 1_500, 2)
  t.pass('B caught up: the retried logout is in the log, and B refuses the token')
  await waitFor('A to refuse it too', async () => await sessionStatus(a.app, access), (s) => s === 401)
  const fresh = await instance(t, cluster)
  t.equal(await sessionStatus(fresh.app, access), 401, 'an instance started afterwards loads it from the log')
})
