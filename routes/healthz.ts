import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from 'typebox'

export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')], {
    description: '`ok`; `degraded`: fewer replicas than REDIS_WAIT_REPLICAS, so views wait in the spool; `unavailable`: no master answers (503)'
  }),
  redis: Type.Object({
    mode: Type.Union([Type.Literal('standalone'), Type.Literal('sentinel'), Type.Literal('cluster')]),
    master: Type.Union([Type.Object({ host: Type.String(), port: Type.Integer() }), Type.Null()], { description: 'The master the service writes to (in a cluster, the first); null while it has none (in a cluster, while one of them does not answer)' }),
    reachable: Type.Boolean({ description: 'Whether that master (in a cluster, every master) answered, as a master, just now' }),
    masters: Type.Integer({ minimum: 0, description: 'Masters that answered as masters: one, or a cluster\'s' }),
    replicas: Type.Integer({ minimum: 0, description: 'Replicas connected to the master, as it reports them (in a cluster, the fewest any master has)' }),
    waitReplicas: Type.Integer({ minimum: 0, description: 'Replicas that must hold a view before it leaves the spool' })
  }),
  spool: Type.Object({
    depth: Type.Integer({ minimum: 0, description: 'Views held in memory, not yet confirmed written' }),
    dropped: Type.Integer({ minimum: 0, description: 'Views not counted since start because the spool was full' }),
    limit: Type.Integer({ minimum: 1, description: 'SPOOL_LIMIT' })
  })
}, { description: 'Where views go, and whether they can be written now' })
export type Health = Static<typeof Health>

/** For load balancers and operators: can views be written now, and where do they go. */
const healthzRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, viewRecorder } = fastify

  fastify.get('/healthz', {
    // Probes come every few seconds; their requests stay out of the info log.
    logLevel: 'warn',
    schema: {
      summary: 'Redis mode, the current master and whether it answers, the spool\'s depth and drops; 503 without a master',
      response: { 200: Health, 503: { ...Health, description: 'No master answers: views wait in the spool' } }
    }
  }, async function health (_request, reply) {
    const { master, replicas, masters } = await store.health()
    const reachable = master !== null
    const { waitReplicas } = config.redis
    const status = !reachable ? 'unavailable' : replicas < waitReplicas ? 'degraded' : 'ok'
    return reply.code(reachable ? 200 : 503).send({
      status,
      redis: {
        mode: config.redis.mode,
        master,
        reachable,
        masters,
        replicas,
        waitReplicas
      },
      spool: { depth: viewRecorder.depth, dropped: viewRecorder.dropped, limit: config.spoolLimit }
    })
  })
}

export default healthzRoutes
