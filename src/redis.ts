/**
 * `fastify-stateless-session/redis`: the Redis store for several instances (ioredis), apart from the package
 * root so that apps which do not use it never load it.
 */
export { RedisSessionStore, type RedisSessionStoreOptions } from './stores/redis-session-store.js'
export { connectRedis, closeRedis, type RedisClientConfig, type Redis } from './stores/redis-client.js'
