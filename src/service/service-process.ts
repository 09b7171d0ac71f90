/**
 * The standalone service as a process: the only place that reads process.env, listens and handles signals. A
 * wrong setting prints one line per problem on stderr and exits 1, without a stack trace. With WORKERS above 1,
 * this process is the cluster primary (src/service/workers.ts) and each worker runs the service; with
 * METRICS_PORT set too, the primary serves the workers' metrics aggregated (cluster-metrics.ts).
 *
 * Run by server.ts (`npm start`) and by the package's executable (`fastify-stateless-session start`), each
 * passing how a person runs the users CLI beside it, for the start-up banner's hint.
 */
import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from './config.js'
import { loggerOptions } from './logger.js'
import { startupFailure } from './startup-errors.js'
import { prettyLogStream, startupBanner, wantsTerminalOutput } from './terminal.js'
import { checkListen, clusterSettings, runPrimary, workerCount } from './workers.js'

export interface ServiceProcessOptions {
  /** The command line that runs the users CLI (`npm run users --`), named in the banner's hints. */
  usersCommand: string
}

function fail (error: unknown): never {
  const message = startupFailure(error, process.env)
  if (message === undefined) throw error
  process.stderr.write(message.split('\n').map((line) => `error: ${line}\n`).join(''))
  process.exit(1)
}

export async function runService (options: ServiceProcessOptions): Promise<void> {
  // Read first, in the primary too: the logger is built from LOG_LEVEL, which must be checked before pino sees
  // it, and a wrong setting is reported once, without loading the whole service.
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig({ env: process.env, dotenv: true })
  } catch (error) {
    fail(error)
  }

  const settings = cluster.isPrimary ? clusterSettings(process.env) : undefined
  const workers = settings === undefined ? 1 : workerCount(settings.workers)
  if (workers === undefined || (workers > 1 && settings?.store === 'memory')) {
    process.stderr.write(workers === undefined
      ? `error: WORKERS must be "auto" or a whole number from 1 to 256 (got "${settings?.workers ?? ''}")\n`
      : 'error: WORKERS above 1 needs a store the workers share: STORE=sqlite (the default) or STORE=redis, not STORE=memory\n')
    process.exit(1)
  }

  if (cluster.isPrimary && workers > 1) {
    // pino's shape and level numbers, so the primary's few lines read like the workers'.
    const line = (level: number) => (message: string): void => {
      process.stdout.write(JSON.stringify({ level, time: Date.now(), pid: process.pid, msg: message }) + '\n')
    }
    const log = { info: line(30), error: line(50) }
    // A PORT that cannot be listened on is said in one line, as without WORKERS, before any worker starts.
    try {
      await checkListen(config.HOST, config.PORT)
    } catch (error) {
      fail(error)
    }
    if (config.METRICS_PORT !== '') {
      try {
        const { listenClusterMetrics } = await import('./cluster-metrics.js')
        await listenClusterMetrics(config, log)
      } catch (error) {
        fail(error)
      }
    }
    runPrimary(workers, log)
  } else {
    let app: FastifyInstance | undefined
    try {
      // Loaded once the settings are known good.
      const { buildApp } = await import('./app.js')
      const { listenMetrics } = await import('./metrics-server.js')
      const { answerPrimaryScrapes } = await import('./cluster-metrics.js')
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
      // A worker whose primary is gone (killed with SIGKILL, say) must not linger holding the port's share.
      if (cluster.isWorker) process.once('disconnect', () => { running.close().finally(() => process.exit(0)) })
      // With WORKERS above 1 the primary serves the metrics port, gathering every worker's registry when
      // scraped (cluster-metrics.ts): a worker listening there too would answer scrapes with its share only.
      if (cluster.isWorker && app.metricsRegistry !== undefined) answerPrimaryScrapes(app.metricsRegistry)
      await app.listen({ host: config.HOST, port: config.PORT })
      if (cluster.isPrimary) await listenMetrics(app)
      // One banner, not one per worker.
      if (terminal && cluster.isPrimary) process.stdout.write(await startupBanner(app, config, options.usersCommand))
    } catch (error) {
      await app?.close().catch(() => {})
      fail(error)
    }
  }
}
