import { resolve } from 'node:path'
import fp from 'fastify-plugin'
import { projectRoot } from '../src/config.js'
import { SpoolJournal } from '../src/spool-journal.js'
import { ViewRecorder } from '../src/view-recorder.js'
import { journalPaths } from '../src/workers.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts views through the group-commit spool. */
    viewRecorder: ViewRecorder
  }
}

/** How long a stopping service tries to write its spool before leaving the rest in the journal. */
const SHUTDOWN_FLUSH_MS = 3000

/** Counts views through the group-commit spool, kept on disk in the journal, as `fastify.viewRecorder`. */
export default fp(async function viewRecorderPlugin (fastify) {
  const { config } = fastify
  const { own: path, orphans } = journalPaths(resolve(projectRoot, config.spoolJournal), config.workers, config.workerSlot)
  const { journal, leftOver } = SpoolJournal.open(path, orphans)
  const views = leftOver.views.length + leftOver.batches.reduce((sum, batch) => sum + batch.groups.reduce((inBatch, group) => inBatch + group.views.length, 0), 0)
  if (views > 0) fastify.log.info({ journal: path, views }, 'the journal holds views an earlier process did not write: they go first')
  const recorder = new ViewRecorder({
    store: fastify.store,
    log: fastify.log,
    waitReplicas: config.redis.waitReplicas,
    pageCountWaitMs: config.pageCountWaitMs,
    spoolLimit: config.spoolLimit,
    journal,
    leftOver
  })
  fastify.decorate('viewRecorder', recorder)
  // Registered after the store plugin, so this runs before the connection closes.
  fastify.addHook('onClose', async () => {
    await recorder.flush(SHUTDOWN_FLUSH_MS)
    const held = recorder.close()
    journal.close(held.batches, held.views)
    const batches = held.batches.length + (held.views.length > 0 ? 1 : 0)
    if (batches > 0) fastify.log.warn({ journal: path, batches }, 'spool journaled; the next start writes it')
  })
}, { name: 'view-recorder', dependencies: ['config', 'store'] })
