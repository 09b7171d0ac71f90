/**
 * Entry point of the standalone service (`npm start`): the only place that reads process.env, listens and
 * handles signals. A wrong setting prints one line per problem on stderr and exits 1, without a stack trace.
 */
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from './config.js'
import { loggerOptions } from './logger.js'
import { startupFailure } from './startup-errors.js'
import { prettyLogStream, startupBanner, wantsTerminalOutput } from './terminal.js'

let app: FastifyInstance | undefined
try {
  // Read first: the logger is built from LOG_LEVEL, which must be checked before pino sees it.
  const config = loadConfig({ env: process.env, dotenv: true })
  // Loaded once the settings are known good: a wrong one is reported without loading the whole service.
  const { buildApp } = await import('./app.js')
  // Development on a terminal: readable logs and a banner. Anywhere else: JSON lines (terminal.ts says why).
  const terminal = wantsTerminalOutput(config, process.stdout)
  const pretty = terminal ? await prettyLogStream() : undefined
  app = await buildApp({ env: process.env, dotenv: true, logger: { ...loggerOptions(config.LOG_LEVEL), ...(pretty === undefined ? {} : { stream: pretty }) } })
  const running = app
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err !== undefined) running.log.error({ err }, 'shutting down after an error')
    else running.log.info({ signal }, 'shutting down')
    await running.close()
  })
  await app.listen({ host: config.HOST, port: config.PORT })
  if (terminal) process.stdout.write(await startupBanner(app, config))
} catch (error) {
  const message = startupFailure(error, process.env)
  if (message === undefined) throw error
  process.stderr.write(message.split('\n').map((line) => `error: ${line}\n`).join(''))
  await app?.close().catch(() => {})
  process.exit(1)
}
