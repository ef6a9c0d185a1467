import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import { Type } from 'typebox'
import { answerFormat } from '../src/answer-format.js'
import { dayBounds } from '../src/zone-clock.js'
import { CSV_CONTENT_TYPE, csvRow } from '../src/csv.js'
import { HttpError } from '../src/errors.js'
import { calendarDay } from '../src/requests.js'
import { Erasure, errorResponses, statsTokenSecurity, VisitorId, VisitorSummary, Visits, VisitsQuery, type LoggedVisit } from '../src/schemas.js'
import type { Store } from '../src/store/store.js'

/** An exported visit's fields, in order: the CSV's header row, and each JSON line's keys. */
const VISIT_COLUMNS = ['id', 'time', 'visitor', 'page', 'returning', 'ip', 'userAgent', 'referrer'] as const

/** Each export format: its content type, its file's extension, its first line, and a visit as a line of it. */
const EXPORTS = {
  csv: { type: CSV_CONTENT_TYPE, extension: 'csv', header: csvRow(VISIT_COLUMNS), line: (visit: LoggedVisit) => csvRow(VISIT_COLUMNS.map((column) => visit[column])) },
  ndjson: { type: 'application/x-ndjson', extension: 'ndjson', header: '', line: (visit: LoggedVisit) => `${JSON.stringify(Object.fromEntries(VISIT_COLUMNS.map((column) => [column, visit[column]])))}\n` }
}

/**
 * Every visit between `start` and `end` as a stream of lines in `format`. Its first chunk is
 * read now, so Redis being away is still a 503; the rest as the client takes them, so the
 * service holds about one chunk however long the day. A failure later cuts the answer short.
 */
async function visitExport (store: Store, log: FastifyBaseLogger, bounds: { start: number, end: number }, format: keyof typeof EXPORTS): Promise<Readable> {
  const chunks = store.streamVisits(bounds)[Symbol.asyncIterator]()
  const first = await chunks.next()
  const { header, line } = EXPORTS[format]
  async function * lines (): AsyncGenerator<string> {
    if (header !== '') yield header
    try {
      for (let chunk = first; chunk.done !== true; chunk = await chunks.next()) yield chunk.value.map(line).join('')
    } catch (error) {
      // Said here: Fastify logs a stream's failure only with its request logging, which is off.
      log.warn({ reason: ((error as Error).cause as Error).message }, 'visitor export cut short: Redis unavailable')
      throw error
    }
  }
  return Readable.from(lines(), { highWaterMark: 1 })
}

/** The visitor log: personal data, so every route here needs the STATS_TOKEN. */
const visitorRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store } = fastify
  fastify.addHook('preHandler', fastify.requireStatsToken)

  fastify.get('/visitors', {
    schema: {
      summary: 'Who visited on a day: newest first, a page at a time; or the whole day as CSV or NDJSON',
      security: statsTokenSecurity,
      querystring: VisitsQuery,
      response: {
        200: {
          description: 'The day\'s visits: a page of them in JSON, or every one in CSV or NDJSON',
          content: {
            'application/json': { schema: Visits },
            'text/csv': { schema: Type.String({ description: `Every visit of the day, oldest first: a header row \`${VISIT_COLUMNS.join(',')}\`, then a row per visit (RFC 4180)` }) },
            'application/x-ndjson': { schema: Type.String({ description: 'Every visit of the day, oldest first: one JSON object per line, with the fields of a visit in JSON' }) }
          }
        },
        ...errorResponses
      }
    }
  }, async function visits (request, reply) {
    const day = calendarDay(config, request.query.day ?? 'today')
    const [start, end] = dayBounds(day, config.timeZone)
    reply.header('vary', 'accept')
    const format = answerFormat(request.query.format, request.headers.accept, ['json', 'csv', 'ndjson'])
    if (format !== 'json') {
      const lines = await visitExport(store, request.log, { start, end }, format)
      const { type, extension } = EXPORTS[format]
      reply.type(type).header('content-disposition', `attachment; filename="thead-visitors-${day}.${extension}"`)
      // Fastify would read a HEAD's stream to its end and drop it: the first chunk has told the status.
      if (request.method === 'HEAD') {
        lines.destroy()
        return await reply.send()
      }
      return await reply.send(lines)
    }
    const page = await store.listVisits({ start, end, before: request.query.before, limit: Number(request.query.limit) })
    return { day, ...page }
  })

  fastify.get('/visitors/:id', {
    schema: {
      summary: 'What is kept about one visitor: first and last seen, visits, latest visits',
      security: statsTokenSecurity,
      params: Type.Object({ id: VisitorId }),
      response: { 200: VisitorSummary, ...errorResponses }
    }
  }, async function visitor (request) {
    const summary = await store.readVisitor(request.params.id)
    if (summary === null) throw new HttpError(404, 'Nothing is kept about this visitor')
    return summary
  })

  fastify.delete('/visitors/:id', {
    schema: {
      summary: 'Erases what is kept about one visitor (a privacy request)',
      security: statsTokenSecurity,
      params: Type.Object({ id: VisitorId }),
      response: { 200: Erasure, ...errorResponses }
    }
  }, async function erase (request) {
    const erased = await store.eraseVisitor(request.params.id)
    request.log.info({ visitor: request.params.id, ...erased }, 'visitor erased on request')
    return { visitor: request.params.id, erased }
  })
}

export default visitorRoutes
