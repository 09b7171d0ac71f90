/**
 * A three-primary Redis Cluster for one test, on loopback ports: three `redis-server --cluster-enabled yes`
 * joined with `redis-cli --cluster create ... --cluster-yes`. No replicas. Every process is killed and its
 * directory removed when the test ends.
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { freePort } from './redis-server.js'
import { spawnRedisProcess, testDir } from './redis-sentinel.js'

export interface RedisCluster {
  ports: number[]
  /** The process of each node, in the order of `ports` (to pause or kill one). */
  processes: ChildProcess[]
  /** `127.0.0.1:port,...`: the value of REDIS_CLUSTER_NODES. */
  nodes: string
}

async function clusterState (port: number): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 500 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.cluster('INFO')
  } catch {
    return ''
  } finally {
    client.disconnect()
  }
}

async function isFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

/** A free port whose cluster bus port (the port + 10000) is free and valid too. */
export async function freeClusterPort (): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port <= 55000 && await isFree(port + 10000)) return port
  }
}

export async function startRedisCluster (t: Test): Promise<RedisCluster> {
  const ports: number[] = []
  const processes: ChildProcess[] = []
  for (let i = 0; i < 3; i++) {
    const dir = testDir(t, 'redis-cluster-')
    const port = await freeClusterPort()
    processes.push(await spawnRedisProcess(t, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000',
      '--save', '', '--appendonly', 'no', '--loglevel', 'warning'
    ], port, dir))
    ports.push(port)
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  const deadline = Date.now() + 20_000
  for (;;) {
    const states = await Promise.all(ports.map(clusterState))
    if (states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_known_nodes:3'))) break
    if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok within 20 s')
    await sleep(100)
  }
  return { ports, processes, nodes: ports.map((p) => `127.0.0.1:${p}`).join(',') }
}
