/**
 * Entry point of the standalone service (`npm start`): the only place that reads process.env, listens and
 * handles signals. With WORKERS above 1, this process is the cluster primary (src/service/workers.ts) and
 * each worker runs the service.
 */
import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loggerOptions } from './logger.js'
import { clusterSettings, runPrimary, workerCount } from './workers.js'
import { listenMetrics } from './metrics-server.js'

const settings = cluster.isPrimary ? clusterSettings(process.env) : undefined
const workers = settings === undefined ? 1 : workerCount(settings.workers)
if (workers === undefined || (workers > 1 && settings?.store === 'memory')) {
  process.stderr.write(workers === undefined
    ? `WORKERS must be "auto" or a whole number from 1 to 256 (got "${settings?.workers ?? ''}")\n`
    : 'WORKERS above 1 needs a store the workers share: STORE=sqlite (the default) or STORE=redis, not STORE=memory\n')
  process.exit(1)
}

if (cluster.isPrimary && workers > 1) {
  // pino's shape and level numbers, so the primary's few lines read like the workers'.
  const line = (level: number) => (message: string): void => {
    process.stdout.write(JSON.stringify({ level, time: Date.now(), pid: process.pid, msg: message }) + '\n')
  }
  runPrimary(workers, { info: line(30), error: line(50) })
} else {
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

  // A worker whose primary is gone (killed with SIGKILL, say) must not linger holding the port's share.
  if (cluster.isWorker) process.once('disconnect', () => { app.close().finally(() => process.exit(0)) })

  await app.listen({ host: app.config.HOST, port: app.config.PORT })
  // With WORKERS above 1 the workers share the metrics port as they share the public one (node:cluster), so
  // each scrape reads one worker: see docs/operations.md.
  await listenMetrics(app)
}
