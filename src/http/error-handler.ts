/**
 * The one boundary where errors become HTTP answers. Our own errors keep their code; Fastify's parsing and
 * validation errors get ours; anything else is a 500 with a generic body, its details only in the log.
 * Library messages never reach a client (no oracle).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  BodyTooLargeError,
  InternalError,
  MalformedJsonError,
  MalformedUrlError,
  PathTooLongError,
  StoreUnavailableError,
  UnsupportedMediaTypeError,
  errorBody,
  httpErrors,
  type ErrorBody
} from '../common/errors.js'

const OWN_CODES = new Set(httpErrors.map((E) => new E().code))

/**
 * Fastify's request-parsing errors and the answer each gets; the router's two reach us only through Fastify's
 * `frameworkErrors` option (framework-errors.ts), without the path its messages echo.
 */
const FASTIFY_CODES: Record<string, () => FastifyError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new UnsupportedMediaTypeError(),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new MalformedJsonError(),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new BodyTooLargeError(),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new MalformedJsonError(),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new MalformedJsonError(),
  FST_ERR_BAD_URL: () => new MalformedUrlError(),
  FST_ERR_MAX_PARAM_LENGTH: () => new PathTooLongError()
}

/** True for an error that means the store cannot serve right now (the store's `isUnavailableError`). */
export type IsStoreUnavailable = (error: unknown) => boolean

const NEVER: IsStoreUnavailable = () => false

export function toErrorBody (error: FastifyError, isStoreUnavailable: IsStoreUnavailable = NEVER): ErrorBody {
  if (error.validation !== undefined) {
    return errorBody(400, 'ERR_VALIDATION', error.message)
  }
  if (OWN_CODES.has(error.code)) {
    return errorBody(error.statusCode as number, error.code, error.message)
  }
  const translate = FASTIFY_CODES[error.code]
  // The store down, reaching us through a plugin that shares its connection (the app's own @fastify/rate-limit
  // on the same Redis, say): 503, never 500. Only the store knows its errors (SessionStore.isUnavailableError).
  const known = translate !== undefined ? translate() : isStoreUnavailable(error) ? new StoreUnavailableError() : new InternalError()
  return errorBody(known.statusCode as number, known.code, known.message)
}

export type ErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void

/** The error handler of the auth routes (and of the standalone app), for a store with these errors. */
export function errorHandlerFor (isStoreUnavailable: IsStoreUnavailable = NEVER): ErrorHandler {
  return function errorHandler (error, request, reply) {
    const body = toErrorBody(error, isStoreUnavailable)
    if (body.statusCode >= 500) {
      request.log.error({ err: error, code: body.code }, 'request failed')
    } else {
      request.log.debug({ code: body.code }, 'request rejected')
    }
    reply.code(body.statusCode).header('cache-control', 'no-store').send(body)
  }
}
