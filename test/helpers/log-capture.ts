/** Captures an app's pino log lines, to assert audit events and scan for secrets. */
import type { FastifyServerOptions } from 'fastify'

export interface CapturedLogs {
  /** Pass as `logger` to buildTestApp, with `env.LOG_LEVEL`. */
  logger: FastifyServerOptions['logger']
  lines: Array<Record<string, unknown>>
  /** The lines whose `audit` field is `event`. */
  audits: (event: string) => Array<Record<string, unknown>>
  /** The lines whose message is `msg`. */
  messages: (msg: string) => Array<Record<string, unknown>>
}

export function captureLogs (level = 'info'): CapturedLogs {
  const lines: Array<Record<string, unknown>> = []
  return {
    logger: { level, stream: { write (line: string) { lines.push(JSON.parse(line) as Record<string, unknown>) } } },
    lines,
    audits: (event) => lines.filter((l) => l['audit'] === event),
    messages: (msg) => lines.filter((l) => l['msg'] === msg)
  }
}
