import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { pino } from 'pino'
import app, { serverOptions } from './app.js'
import { loadConfig, type Config } from './config.js'
import { EmbeddedRedisError, startEmbeddedRedisIfAbsent } from './embedded-redis.js'
import type { RedisProcess } from './redis-process.js'
import { runWorkers, WORKER_SLOT_VARIABLE } from './workers.js'

/** The signals that ask for a graceful stop: a terminal's Ctrl-C, and a process manager's stop. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000

/** Builds, starts and, on a signal, gracefully stops the service. */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    return refuseToStart((error as Error).message)
  }
  // A worker's primary started the embedded Redis, if one was needed.
  if (cluster.isWorker) config.workerSlot = Number(process.env[WORKER_SLOT_VARIABLE])
  let embeddedRedis: RedisProcess | null = null
  if (config.embeddedRedis === 'auto' && config.redis.mode === 'standalone' && cluster.isPrimary) {
    try {
      embeddedRedis = await startEmbeddedRedisIfAbsent(config.redis.url, config.embeddedRedisDir)
    } catch (error) {
      return refuseToStart(error instanceof EmbeddedRedisError
        ? error.message
        : `the embedded redis-server did not start: ${(error as Error).message}; fix that, or set REDIS_URL to a running Redis`)
    }
  }

  // Written synchronously: a line still on its way when the process exits would be lost, and the
  // stop's last lines come just before it. A reader that falls behind holds the service up instead.
  const fastify = Fastify(serverOptions(config, { stream: pino.destination({ dest: 1, sync: true }) }))
  if (embeddedRedis !== null) fastify.log.info({ port: embeddedRedis.port, dir: config.embeddedRedisDir }, 'no Redis answered: started an embedded redis-server')
  const stopEmbeddedRedis = async (): Promise<void> => { await embeddedRedis?.stop() }
  if (config.workers > 1 && cluster.isPrimary) {
    runWorkers(config.workers, fastify.log, stopEmbeddedRedis)
    return
  }
  if (config.cookieSecretGenerated) fastify.log.warn('COOKIE_SECRET is not set: visitor cookies will not be recognised after a restart')
  const stop = async (): Promise<void> => {
    await fastify.close()
    await stopEmbeddedRedis()
  }
  const uninstall = stopOnSignals(fastify.log, stop)
  try {
    await fastify.register(app, { config })
  } catch (error) {
    uninstall()
    return refuseToStart(`can't start: ${(error as Error).message}`, stop)
  }
  try {
    await fastify.listen({ port: config.port, host: config.host })
  } catch (error) {
    uninstall()
    return refuseToStart(listenFailure(error as NodeJS.ErrnoException, config), stop)
  }
}

/**
 * Stops gracefully on SIGINT or SIGTERM (and on an uncaught error): the spool is written out, or
 * journaled. A terminal's Ctrl-C reaches every process of its group, and `npm start` forwards it
 * too, so one Ctrl-C arrives twice: a signal during the stop is logged and ignored, the next one
 * exits at once, as does a SIGQUIT (Ctrl-\) then; the views not yet written stay in the journal.
 */
function stopOnSignals (log: FastifyBaseLogger, stop: () => Promise<void>): () => void {
  let stopping = false
  let stoppedBy: NodeJS.Signals | undefined
  let repeats = 0
  const closer = closeWithGrace({ delay: STOP_TIMEOUT_MS, skip: [...STOP_SIGNALS] }, async function gracefulStop ({ err, signal }) {
    stopping = true
    if (err !== undefined) log.error({ err }, 'stopping after an error')
    else log.info({ signal: signal ?? stoppedBy }, 'stopping')
    await stop()
    log.info('stopped')
  })
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      stoppedBy = signal
      closer.close()
    } else if (++repeats === 1) {
      log.warn({ signal }, 'already stopping: the spool is being written out; send it again to exit at once, leaving the views not yet written in the journal for the next start')
    } else {
      log.error({ signal }, 'exiting at once: views not yet written stay in the journal for the next start')
      process.exit(1)
    }
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
  return () => {
    closer.uninstall()
    for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal)
  }
}

/** What to change when the service can't listen, in one line. */
function listenFailure (error: NodeJS.ErrnoException, config: Config): string {
  if (error.code === 'EADDRINUSE') return `port ${config.port} on ${config.host} is in use: stop what listens there, or set PORT to a free port`
  // The address can't be had (not this machine's, not resolved) or the port not taken by this user.
  return `can't listen on HOST ${config.host}, PORT ${config.port} (${error.message}): set HOST to an address of this machine, or to 0.0.0.0 for all of them, and PORT to one this user may take`
}

/** Says in one line on stderr why the service did not start, stops what it started, and exits. */
async function refuseToStart (message: string, stop?: () => Promise<void>): Promise<void> {
  console.error(`thead: ${message.split('\n')[0] as string}`)
  await stop?.()
  process.exit(1)
}

await main()
