import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { daysBetween, isCalendarDay, today } from '../src/calendar.js'
import type { Config } from '../src/config.js'
import { oldestKeptDay } from '../src/data-model.js'
import { ClientError, fromRedis } from '../src/errors.js'
import type { PageConfig } from '../src/pages.js'
import { DayOrToday, DayStats, errorResponses, PageQuery, RangeQuery, RangeStats } from '../src/schemas.js'
import { readRange, type DayNumbers } from '../src/stats.js'

/** The longest range /stats answers, in days. */
export const MAX_RANGE_DAYS = 366

/** The named configured page, or the first one; a 404 for any other name. */
export function pageNamed (config: Config, name: string | undefined): PageConfig {
  const page = name === undefined ? config.pages[0] : config.pages.find((candidate) => candidate.name === name)
  if (page === undefined) throw new ClientError(404, `There is no page named ${name}`)
  return page
}

/** A calendar day from a validated parameter; `today` is today in the configured zone. */
export function calendarDay (config: Config, text: string): string {
  const day = text === 'today' ? today(config.timeZone) : text
  if (!isCalendarDay(day)) throw new ClientError(400, `${day} is not a calendar date`)
  return day
}

/** Today, and the oldest day whose numbers are kept today. */
function keptDays (config: Config): { today: string, oldestKept: string } {
  const now = today(config.timeZone)
  return { today: now, oldestKept: oldestKeptDay(now, config.retentionDays) }
}

const statsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config } = fastify
  if (!config.statsPublic) fastify.addHook('preHandler', fastify.requireStatsToken)

  fastify.get('/stats/:day', {
    schema: {
      summary: 'A page\'s views, unique, new and returning visitors and bot views on one day',
      params: Type.Object({ day: DayOrToday }),
      querystring: Type.Object({ page: PageQuery }),
      response: { 200: DayStats, ...errorResponses }
    }
  }, async function dayStats (request) {
    const page = pageNamed(config, request.query.page)
    const day = calendarDay(config, request.params.day)
    const { days } = await fromRedis(readRange(fastify.redis, page.name, [day], keptDays(config)))
    return { page: page.name, ...days[0] as DayNumbers }
  })

  fastify.get('/stats', {
    schema: {
      summary: 'A page\'s numbers per day over a range, with the range\'s true unique visitors',
      querystring: RangeQuery,
      response: { 200: RangeStats, ...errorResponses }
    }
  }, async function rangeStats (request) {
    const page = pageNamed(config, request.query.page)
    const from = calendarDay(config, request.query.from)
    const to = calendarDay(config, request.query.to)
    if (from > to) throw new ClientError(400, '"from" must not be after "to"')
    const days = daysBetween(from, to)
    if (days.length > MAX_RANGE_DAYS) throw new ClientError(400, `A range may span ${MAX_RANGE_DAYS} days at most`)
    const range = await fromRedis(readRange(fastify.redis, page.name, days, keptDays(config)))
    return {
      page: page.name, from, to,
      ...range.totals, uniques: range.uniques,
      days: range.days,
      referrers: range.referrers
    }
  })
}

export default statsRoutes
