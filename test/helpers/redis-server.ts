/**
 * A private redis-server for one test: started on a free port (never 6379), with no persistence or with an
 * append-only file, and stopped, killed (SIGKILL) or restarted on the same port by the test to inject faults.
 * Fails with a clear message when the binary is not on PATH.
 */
import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio, type SpawnOptionsWithStdioTuple } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'

export interface RedisServerOptions {
  /** Append-only file. Default false. */
  aof?: boolean
  /** With `aof`: `always` (default; nothing acknowledged is lost to a SIGKILL) or `everysec` (production's usual). */
  appendfsync?: 'always' | 'everysec'
  /** Extra redis-server arguments, e.g. ['--rename-command', 'CONFIG', '']. */
  args?: string[]
}

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** The running process, or undefined while stopped. */
  readonly process: ChildProcess | undefined
  /** Starts it again on the same port and data directory; resolves once it answers PING. */
  start: () => Promise<void>
  /** SIGTERM; resolves when the process has exited. */
  stop: () => Promise<void>
  /** SIGKILL (a crash); resolves when the process has exited. */
  kill: () => Promise<void>
  /** kill, then start: with `aof` the data survives, without it Redis comes back empty. */
  restart: () => Promise<void>
}

interface Teardown {
  teardown: (fn: () => unknown) => void
}

let binaryChecked = false

function requireBinary (): void {
  if (binaryChecked) return
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error('redis-server is not on PATH: install it (Debian: `apt-get install redis-server`) to run the Redis tests')
  }
  binaryChecked = true
}

let deathSignalWrapper: boolean | undefined

/**
 * Spawns redis-server so that it dies with the test process that started it. Teardowns do not run when tap
 * kills a test file that ran out of time, and a redis-server left behind holds its port and memory until
 * the machine restarts: where util-linux's `setpriv` is available (Debian's is), the server is started
 * through it with a parent-death signal (SIGKILL when the test process ends, whatever the cause). setpriv
 * execs redis-server in place, so the pid, signals and exit code are redis-server's own.
 */
export function spawnRedisServer (args: string[], options: SpawnOptionsWithStdioTuple<'ignore', 'pipe', 'pipe'>): ChildProcessByStdio<null, Readable, Readable> {
  deathSignalWrapper ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true']).status === 0
  return deathSignalWrapper
    ? spawn('setpriv', ['--pdeathsig', 'KILL', 'redis-server', ...args], options)
    : spawn('redis-server', args, options)
}

/** A TCP port nobody listens on right now (the OS picks it). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

/** True when a redis-server answers PING on the port (NOAUTH also proves it is up, with a password). */
export async function answersPing (port: number, timeoutMs: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const done = (ok: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => { done(false) }, timeoutMs)
    socket.on('error', () => { done(false) })
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8')
      if (data.includes('\r\n')) done(data.startsWith('+PONG') || data.startsWith('-NOAUTH'))
    })
    socket.write('*1\r\n$4\r\nPING\r\n')
  })
}

/** Starts a private redis-server, killed and its directory removed when the test ends. */
export async function startRedis (t: Teardown, options: RedisServerOptions = {}): Promise<RedisServer> {
  requireBinary()
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'))
  let port = 0
  let child: ChildProcess | undefined

  const args = (): string[] => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.aof === true ? 'yes' : 'no',
    ...(options.aof === true ? ['--appendfsync', options.appendfsync ?? 'always'] : []),
    '--loglevel', 'warning',
    ...(options.args ?? [])
  ]

  async function exited (signal: NodeJS.Signals): Promise<void> {
    const current = child
    if (current === undefined) return
    child = undefined
    if (current.exitCode !== null || current.signalCode !== null) return
    await new Promise<void>((resolve) => {
      current.once('exit', () => { resolve() })
      current.kill(signal)
    })
  }

  async function start (): Promise<void> {
    if (child !== undefined) throw new Error('redis-server is already running')
    let stderr = ''
    const started = spawnRedisServer(args(), { stdio: ['ignore', 'pipe', 'pipe'] })
    started.stdout.on('data', (chunk) => { stderr += String(chunk) })
    started.stderr.on('data', (chunk) => { stderr += String(chunk) })
    child = started
    const deadline = Date.now() + 10_000
    for (;;) {
      if (started.exitCode !== null) {
        child = undefined
        throw new Error(`redis-server exited at start (port ${port}): ${stderr.trim()}`)
      }
      if (await answersPing(port, 200)) return
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s: ${stderr.trim()}`)
      await sleep(20)
    }
  }

  t.teardown(async () => {
    await exited('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  // Another process may take the free port before redis-server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    try {
      await start()
      break
    } catch (error) {
      if (attempt === 5) throw error
    }
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process () { return child },
    start,
    async stop () { await exited('SIGTERM') },
    async kill () { await exited('SIGKILL') },
    async restart () {
      await exited('SIGKILL')
      await start()
    }
  }
}
