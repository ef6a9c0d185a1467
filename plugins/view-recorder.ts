import { resolve } from 'node:path'
import fp from 'fastify-plugin'
import { projectRoot } from '../src/config.js'
import { readJournal, writeJournal } from '../src/spool-journal.js'
import { ViewRecorder } from '../src/view-recorder.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts views through the group-commit spool. */
    viewRecorder: ViewRecorder
  }
}

/** How long a stopping service tries to write its spool before journaling the rest. */
const SHUTDOWN_FLUSH_MS = 3000

/** Counts views through the group-commit spool, as `fastify.viewRecorder`. */
export default fp(async function viewRecorderPlugin (fastify) {
  const { config } = fastify
  const journal = resolve(projectRoot, config.spoolJournal)
  const recorder = new ViewRecorder({
    store: fastify.store,
    log: fastify.log,
    waitReplicas: config.redis.waitReplicas,
    pageCountWaitMs: config.pageCountWaitMs,
    spoolLimit: config.spoolLimit,
    replay: readJournal(journal),
    // Removed as soon as it is written: a crash weeks later must not replay it, once the
    // writer's progress marks that make a resend count once have expired.
    onReplayed: () => { writeJournal(journal, []) }
  })
  fastify.decorate('viewRecorder', recorder)
  // Registered after the store plugin, so this runs before the connection closes.
  fastify.addHook('onClose', async () => {
    await recorder.flush(SHUTDOWN_FLUSH_MS)
    const unwritten = recorder.close()
    writeJournal(journal, unwritten)
    if (unwritten.length > 0) fastify.log.warn({ journal, batches: unwritten.length }, 'spool journaled; the next start writes it')
  })
}, { name: 'view-recorder', dependencies: ['config', 'store'] })
