/**
 * pino options for the service. Fastify's default serializers log no headers and no bodies; the redaction
 * is the second line of defence for anything that logs a request or response object by hand. Request URLs
 * are logged without their query string: tokens never travel there, but a misbehaving client may put one
 * there, and it must not land in a log (docs/security.md rule 23).
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

interface LoggedRequest {
  method: string
  url: string
  host?: string
  ip?: string
  socket?: { remotePort?: number | undefined } | null
}

/** Fastify's request serializer, minus the query string and the client-chosen accept-version header. */
export function serializeRequest (request: LoggedRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.split('?')[0],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

export interface LoggerOptions {
  level: string
  redact: { paths: string[], censor: string }
  serializers: { req: typeof serializeRequest }
}

export function loggerOptions (level: string): LoggerOptions {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: serializeRequest } }
}
