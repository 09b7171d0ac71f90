/**
 * Entry point of the standalone service (`npm start`): the only place that reads process.env, listens and
 * handles signals.
 */
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loggerOptions } from './logger.js'
import { listenMetrics } from './metrics-server.js'

const app = await buildApp({
  env: process.env,
  dotenv: true,
  logger: loggerOptions(process.env['LOG_LEVEL'] ?? 'info')
})

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

await app.listen({ host: app.config.HOST, port: app.config.PORT })
await listenMetrics(app)
