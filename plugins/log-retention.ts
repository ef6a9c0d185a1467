import fp from 'fastify-plugin'

/** How often the visitor log is trimmed besides on each connection. */
const TRIM_EVERY_MS = 3_600_000

/**
 * Keeps the visitor log within RETENTION_DAYS when no views come to trim it (a page taken
 * down, a quiet instance): on every connection to Redis, and then hourly.
 */
export default fp(async function logRetentionPlugin (fastify) {
  const { store } = fastify
  async function trimNow (): Promise<void> {
    try {
      const trimmed = await store.trimVisitLog()
      if (trimmed > 0) fastify.log.info({ trimmed }, 'visitor-log entries past the retention removed')
    } catch {
      // Redis is away: the next connection tries again.
    }
  }
  const stopWatchingReady = store.onReady(trimNow)
  const timer = setInterval(trimNow, TRIM_EVERY_MS).unref()
  // Before Redis answers this fails, and the ready event above does it.
  await trimNow()
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    stopWatchingReady()
  })
}, { name: 'log-retention', dependencies: ['config', 'store'] })
