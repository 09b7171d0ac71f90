/**
 * GET <prefix>/session/status: whether the request has a valid session, and whether it carried a refresh
 * cookie, always 200. A page that starts without knowing either (the refresh cookie is HttpOnly) asks this
 * first, instead of GET <prefix>/session and then POST <prefix>/refresh, each a 401 in the browser's
 * console when nobody is logged in. The refresh cookie is not verified here (no store read, nothing learnt
 * about it beyond its presence, which the browser that sent it knows anyway); only a refresh tells.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SessionStoreStaleError } from '../../common/errors.js'
import { SessionStatusBody } from '../../wire/schemas.js'
import { readCookie, type CookiePolicy } from '../cookies.js'
import { errorResponses as errors } from './route-kit.js'

export const statusRoutes: FastifyPluginAsyncTypebox<{ policy: CookiePolicy }> = async function statusRoutes (fastify, { policy }) {
  const { sessionOf, isStale } = fastify.statelessSession
  fastify.get('/session/status', {
    schema: {
      summary: 'Whether there is a valid session, and whether a refresh cookie was sent (always 200, so an anonymous page load logs no 401)',
      response: { 200: SessionStatusBody, ...errors }
    }
  }, async function sessionStatus (request) {
    // As GET <prefix>/session: a revocation view too old to vouch for the session answers 503, not "no session".
    if (isStale(request)) throw new SessionStoreStaleError()
    return {
      authenticated: sessionOf(request) !== null,
      refreshable: readCookie(request.headers.cookie, policy.refresh.name) !== undefined
    }
  })
}
