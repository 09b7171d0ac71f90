/**
 * `fastify-stateless-session/service`: the standalone service as an app factory (configuration from the
 * environment, the configured store, the built-in user directory).
 */
export { buildApp, type BuildAppOptions } from './service/app.js'
export { listenMetrics } from './service/metrics-server.js'
