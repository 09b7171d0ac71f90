/**
 * Instance B of bench/propagation.ts, in its own process: builds the service from BENCH_ENV and, for each
 * token it is sent, checks it in a loop until the access check refuses it, then reports when.
 */
import { performance } from 'node:perf_hooks'
import { oursService } from './our-code.js'

export type ParentMessage = { type: 'watch', token: string }
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'watching' }
  | { type: 'refused', at: number }
  | { type: 'rejected', reason: string }

const send = (message: ChildMessage): void => { process.send?.(message) }

const app = await oursService.buildApp({ env: JSON.parse(process.env['BENCH_ENV'] ?? '{}') as Record<string, string> })
await app.ready()

process.on('message', (message: ParentMessage) => {
  const first = app.sessions.authenticate(message.token)
  if (typeof first === 'string') {
    send({ type: 'rejected', reason: first })
    return
  }
  send({ type: 'watching' })
  // Each check yields to I/O (setImmediate), so the revocation feed is read between checks.
  const check = (): void => {
    if (typeof app.sessions.authenticate(message.token) === 'string') {
      send({ type: 'refused', at: performance.timeOrigin + performance.now() })
    } else {
      setImmediate(check)
    }
  }
  setImmediate(check)
})
process.on('disconnect', () => { app.close().finally(() => process.exit(0)) })
send({ type: 'ready' })
