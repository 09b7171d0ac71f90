/**
 * A Redis Sentinel set for one test, all on loopback ports: a primary, a replica and three Sentinels
 * (`redis-server sentinel.conf --sentinel`) watching them under the name `mymaster`. Every process is killed
 * and its directory removed when the test ends. Sentinel timings are short (down after 1 s) so a failover
 * takes a couple of seconds.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { answersPing, freePort, spawnRedisServer, startRedis, type RedisServer } from './redis-server.js'

export const SENTINEL_NAME = 'mymaster'
/** `sentinel down-after-milliseconds`: how long the primary must be silent before a failover starts. */
export const DOWN_AFTER_MS = 1000
/** `sentinel failover-timeout`. */
export const FAILOVER_TIMEOUT_MS = 5000

export interface SentinelSet {
  primary: RedisServer
  /** The first replica. */
  replica: RedisServer
  replicas: RedisServer[]
  /** Ports of the three Sentinels. */
  sentinelPorts: number[]
  /** `127.0.0.1:port,...`: the value of REDIS_SENTINELS. */
  sentinels: string
  /** The port Sentinels currently name as the primary (asks one that answers). */
  primaryPort: () => Promise<number>
}

/** A process started by a test and killed (SIGKILL) at its end. */
export async function spawnRedisProcess (t: Test, args: string[], port: number, dir: string): Promise<ChildProcess> {
  let output = ''
  const child = spawnRedisServer(args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', (chunk) => { output += String(chunk) })
  child.stderr.on('data', (chunk) => { output += String(chunk) })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    await new Promise<void>((resolve) => {
      child.once('exit', () => { resolve() })
      child.kill('SIGKILL')
    })
  })
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start (port ${port}): ${output.trim()}`)
    if (await answersPing(port, 200)) return child
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output.trim()}`)
    await sleep(20)
  }
}

/** A private directory removed at the end of the test. */
export function testDir (t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

async function sentinelCommand (port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 500, commandTimeout: 500 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.call('SENTINEL', ...args)
  } finally {
    client.disconnect()
  }
}

async function primaryInfo (port: number): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 500 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.info('replication')
  } catch {
    return ''
  } finally {
    client.disconnect()
  }
}

export async function startSentinelSet (t: Test, options: { replicas?: number } = {}): Promise<SentinelSet> {
  const primary = await startRedis(t)
  const replicas: RedisServer[] = []
  for (let i = 0; i < (options.replicas ?? 1); i++) replicas.push(await startRedis(t, { args: ['--replicaof', '127.0.0.1', String(primary.port)] }))
  const sentinelPorts: number[] = []
  for (let i = 0; i < 3; i++) {
    const dir = testDir(t, 'redis-sentinel-')
    const port = await freePort()
    const config = join(dir, 'sentinel.conf')
    // Sentinel rewrites its configuration file: it must be its own, writable.
    writeFileSync(config, [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primary.port} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
      ''
    ].join('\n'))
    await spawnRedisProcess(t, [config, '--sentinel', '--loglevel', 'warning'], port, dir)
    sentinelPorts.push(port)
  }
  // Ready once the replica is in sync (WAIT counts it), every Sentinel knows the replica and the quorum of Sentinels can authorize a failover.
  const deadline = Date.now() + 20_000
  for (;;) {
    const states = await Promise.all(sentinelPorts.map(async (port) => {
      try {
        const sentinels = await sentinelCommand(port, 'SENTINELS', SENTINEL_NAME) as unknown[]
        const known = await sentinelCommand(port, 'REPLICAS', SENTINEL_NAME) as unknown[]
        return known.length === replicas.length && sentinels.length === 2
      } catch {
        return false
      }
    }))
    const replication = await primaryInfo(primary.port)
    const online = replication.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length
    if (states.every(Boolean) && online === replicas.length) break
    if (Date.now() > deadline) throw new Error('the Sentinels did not discover the replica and each other within 20 s')
    await sleep(100)
  }
  return {
    primary,
    replica: replicas[0] as RedisServer,
    replicas,
    sentinelPorts,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    async primaryPort () {
      for (const port of sentinelPorts) {
        try {
          const [, primaryPort] = await sentinelCommand(port, 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME) as [string, string]
          return Number(primaryPort)
        } catch {}
      }
      throw new Error('no Sentinel answers')
    }
  }
}
