/**
 * The load generator: a process of its own (so it never shares the server's core), driving autocannon
 * against one contender. It gets its job over IPC and answers with the figures.
 *
 * kinds of job:
 *   get      GET /me, the sessions' cookies round-robin over all connections;
 *   refresh  POST /auth/refresh, each request takes an idle session, presents its newest refresh cookie and
 *            puts the session back with the rotated cookie from the answer;
 *   login    POST /auth/login with the bench user's credentials.
 */
import autocannon from 'autocannon'
import { readFileSync } from 'node:fs'
import type { BenchSession } from './contenders/serve.js'

export interface LoadJob {
  kind: 'get' | 'refresh' | 'login'
  url: string
  sessionsFile: string
  /** Sessions presented while measuring: `from` to `from + use` of the file (the runner keeps the last few for its checks). */
  measured: { from: number, use: number }
  /** Sessions presented while warming up, unmeasured, just before: the same range, or another for cold runs. */
  warmup: { from: number, use: number }
  connections: number
  warmupSeconds: number
  durationSeconds: number
  /** get: every request must carry a cookie no other request carried (cold runs). */
  distinct?: boolean
  /** Login only. */
  credentials?: { username: string, password: string }
}

export interface LoadResult {
  requestsPerSecond: number
  p50: number
  p99: number
  requests: number
  non2xx: number
  errors: number
  /** get: how many requests presented a cookie already presented in this run (cold runs want 0). */
  repeats: number
}

function refreshCookieOf (setCookie: string | string[] | undefined): string | undefined {
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie]) {
    const pair = line.split(';')[0] as string
    if (pair.startsWith('__Secure-refresh=') && pair.length > '__Secure-refresh='.length) return pair
  }
  return undefined
}

/**
 * Warm-up and measurement run in this one process, one after the other: a refresh session's newest cookie is
 * only known here, and presenting an older one would be reuse (the family revoked, 401s).
 */
export async function runLoad (job: LoadJob): Promise<LoadResult> {
  const all = JSON.parse(readFileSync(job.sessionsFile, 'utf8')) as BenchSession[]
  const range = ({ from, use }: { from: number, use: number }): string[] => all.slice(from, from + use).map((s) => s.cookie)
  const warmup = range(job.warmup)
  const idle = range(job.measured)
  if (job.warmupSeconds > 0) await loadFor(job, warmup, idle, job.warmupSeconds)
  const measured = job.kind === 'refresh' ? idle : range(job.measured)
  // The runner reads both processes' CPU time between this message and the result.
  process.send?.({ type: 'measuring' })
  return await loadFor(job, measured, idle, job.durationSeconds)
}

async function loadFor (job: LoadJob, cookies: string[], idle: string[], durationSeconds: number): Promise<LoadResult> {
  let sent = 0
  let requests: autocannon.Request[]
  if (job.kind === 'get' && !job.distinct) {
    // Built once, then each connection cycles through them: the cheapest way for autocannon to send them,
    // which matters because on two cores the load generator can be the limit (see the CPU columns).
    requests = cookies.map((cookie) => ({ method: 'GET', path: '/me', headers: { cookie } }))
  } else if (job.kind === 'get') {
    // Every request a different cookie, globally: built one by one.
    requests = [{
      method: 'GET',
      path: '/me',
      setupRequest: (req) => {
        const cookie = cookies[sent++ % cookies.length] as string
        return { ...req, headers: { cookie } }
      }
    }]
  } else if (job.kind === 'refresh') {
    requests = [{
      method: 'POST',
      path: '/auth/refresh',
      setupRequest: (req, context) => {
        const cookie = idle.shift()
        if (cookie === undefined) throw new Error('more connections than sessions')
        const state = context as { cookie?: string }
        state.cookie = cookie
        return { ...req, headers: { cookie } }
      },
      onResponse: (_status, _body, context, headers) => {
        idle.push(refreshCookieOf(headers?.['set-cookie']) ?? (context as { cookie: string }).cookie)
      }
    }]
  } else {
    requests = [{
      method: 'POST',
      path: '/auth/login',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(job.credentials)
    }]
  }
  const result = await autocannon({ url: job.url, connections: job.connections, duration: durationSeconds, requests })
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    repeats: job.kind === 'get' && job.distinct === true ? Math.max(0, sent - cookies.length) : 0
  }
}

if (process.send !== undefined) {
  process.once('message', (job: LoadJob) => {
    runLoad(job).then((result) => {
      process.send?.({ type: 'result', result }, () => { process.exit(0) })
    }, (error: unknown) => {
      process.send?.({ type: 'error', message: String(error) }, () => { process.exit(1) })
    })
  })
}
