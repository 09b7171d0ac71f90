/**
 * Starts the real service (src/service/server.ts) as a child process, the way `npm start` does; `args` (node's
 * arguments) start it another way, e.g. through the package's executable.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Test } from 'tap'
import { testEnv } from '../helper.js'

export interface RunningServer {
  port: number
  url: string
  child: ChildProcess
  output: () => string
  /** SIGTERM and wait for exit (graceful). */
  stop: () => Promise<number | null>
  /** SIGKILL: no shutdown hooks run. */
  kill: () => Promise<void>
}

export async function startServer (t: Test, env: Record<string, string>, args = [...process.execArgv, 'src/service/server.ts']): Promise<RunningServer> {
  // By default, the same loader and coverage hooks as this test process (tsx, tap's processinfo).
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...testEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000)
    const check = (): void => {
      const match = /Server listening at http:\/\/[^:]+:(\d+)/.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    }
    child.stdout.on('data', check)
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`server exited:\n${output}`)) })
  })
  return {
    port,
    url: `http://localhost:${port}`,
    child,
    output: () => output,
    stop: async () => { child.kill('SIGTERM'); return await exited },
    kill: async () => { child.kill('SIGKILL'); await exited }
  }
}

/** Runs the service expecting it to stop by itself (a setting it refuses, a port in use): its exit code and output. */
export async function runServerToExit (env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [...process.execArgv, 'src/service/server.ts'], {
    env: { ...process.env, ...testEnv({ PORT: '0', LOG_LEVEL: 'info', ...env }) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, stdout, stderr }
}
