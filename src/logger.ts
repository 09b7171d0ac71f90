/**
 * pino options for the service. Fastify's default serializers log no headers and no bodies; the redaction
 * is the second line of defence for anything that logs a request or response object by hand.
 */

export const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'password',
  '*.password',
  'body.password',
  'req.body.password'
]

export interface LoggerOptions {
  level: string
  redact: { paths: string[], censor: string }
}

export function loggerOptions (level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
}
