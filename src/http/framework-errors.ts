/**
 * Answers given before any route, hook or error handler runs, in the service's error shape (docs/errors.md).
 *
 * - Fastify's router refuses a path parameter over maxParamLength (414) or a path with malformed
 *   percent-encoding (400) itself, with a body of its own that echoes the path, no `Cache-Control` and none of
 *   our headers; its `frameworkErrors` option hands them to us instead.
 * - Node's HTTP parser reports oversized headers, a request too slow to arrive and unparsable HTTP as a
 *   `clientError` on the socket, which Fastify's default `clientErrorHandler` answers with raw bytes in
 *   Fastify's shape. There is no request or reply then, only the socket: we write the same raw answer, in ours.
 *
 * Both are Fastify construction options, so only the standalone service can set them (src/service/app.ts); an
 * app embedding the plugin sets its own (docs/plugin.md).
 */
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import {
  HeadersTooLargeError,
  MalformedRequestError,
  RequestTimeoutError,
  errorBody
} from '../common/errors.js'
import { toErrorBody } from './error-handler.js'
import { HSTS, SECURITY_HEADERS } from './security-headers.js'

/**
 * What the answers given before any route need from the service. Read when an answer is given, so the service
 * can fill it in once its configuration is read (the Fastify options that take these handlers come first).
 */
export interface PreRouteSettings {
  /** COOKIE_SECURE: HSTS on an answer to a request that came over https, as on every other answer. */
  cookieSecure: boolean
  /** TRUST_PROXY: the peers whose X-Forwarded-Proto is believed. */
  isTrustedProxy: (address: string) => boolean
  /** With metrics on: counts an answer in `stateless_session_http_responses_total` (route `unmatched`). */
  countResponse: ((method: string, statusCode: number) => void) | undefined
}

/**
 * Whether the request came over https, as Fastify's `request.protocol` says with `trustProxy`: the request a
 * framework error gets is a bare one, built before routing, whose own `protocol` ignores X-Forwarded-Proto.
 */
function cameOverHttps (request: FastifyRequest, isTrustedProxy: (address: string) => boolean): boolean {
  const socket = request.raw.socket as Partial<TLSSocket> | null
  const forwarded = request.headers['x-forwarded-proto']
  if (typeof forwarded === 'string' && forwarded !== '' && isTrustedProxy(socket?.remoteAddress ?? '')) {
    return forwarded.slice(forwarded.lastIndexOf(',') + 1).trim() === 'https'
  }
  return socket?.encrypted === true
}

/**
 * Fastify's `frameworkErrors`: the error handler's body (our code, nothing echoed), no-store and the security
 * headers (HSTS as on every other answer), counted in the metrics, as every other answer of the service.
 * Fastify logs these requests' "incoming request" line but not their "request completed", so the answer is
 * logged here, at info.
 */
export function frameworkErrorHandler (settings: PreRouteSettings): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return function frameworkErrors (error, request, reply) {
    // None of the router's errors comes from the store.
    const body = toErrorBody(error)
    if (body.statusCode >= 500) {
      request.log.error({ err: error, code: body.code }, 'request failed')
    } else {
      request.log.info({ code: body.code, statusCode: body.statusCode }, 'request rejected before routing')
    }
    reply.headers(SECURITY_HEADERS)
    if (settings.cookieSecure && cameOverHttps(request, settings.isTrustedProxy)) reply.header('strict-transport-security', HSTS)
    settings.countResponse?.(request.method, body.statusCode)
    reply.code(body.statusCode).header('cache-control', 'no-store').send(body)
  }
}

/** The socket as far as a client error needs it (a net.Socket, or a TLS one: `encrypted`). */
export type ClientErrorSocket = Pick<Duplex, 'writable' | 'destroyed' | 'write' | 'destroy'> & { encrypted?: boolean }

/** The method label of a parser error's answer in the metrics: the request was never read. */
export const UNKNOWN_METHOD = 'unknown'

const RAW_HEADERS = Object.entries({ ...SECURITY_HEADERS, 'cache-control': 'no-store' })
  .map(([name, value]) => `${name}: ${value}\r\n`).join('')

/** The answer each parser error gets; anything else the parser refuses is a 400. */
function clientErrorOf (code: string | undefined): FastifyError {
  if (code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLargeError()
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RequestTimeoutError()
  return new MalformedRequestError()
}

/**
 * Fastify's `clientErrorHandler`, in our shape. Like Fastify's and Node's own: nothing for a connection the
 * client reset, the answer only while the socket can be written, and the connection closed after it (the
 * parser cannot go on after an error). Logged at info, as a request line would be: there is no request to log.
 * HSTS only when the socket itself is TLS: the request's headers, X-Forwarded-Proto among them, were not read.
 */
export function answerClientError (error: Error & { code?: string }, socket: ClientErrorSocket, log: FastifyBaseLogger, settings: PreRouteSettings): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const known = clientErrorOf(error.code)
  const status = known.statusCode as number
  log.info({ code: known.code, statusCode: status, parserError: error.code }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify(errorBody(status, known.code, known.message))
    const hsts = settings.cookieSecure && socket.encrypted === true ? `strict-transport-security: ${HSTS}\r\n` : ''
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] as string}\r\n${RAW_HEADERS}${hsts}` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    settings.countResponse?.(UNKNOWN_METHOD, status)
  }
  socket.destroy(error)
}

/** Fastify's `clientErrorHandler` option: Fastify calls it bound to the instance, whose logger it uses. */
export function clientErrorHandler (settings: PreRouteSettings): (this: FastifyInstance, error: Error & { code?: string }, socket: ClientErrorSocket) => void {
  return function clientErrorHandler (error, socket) {
    answerClientError(error, socket, this.log, settings)
  }
}
