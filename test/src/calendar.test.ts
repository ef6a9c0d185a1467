import t, { type Test } from 'tap'
import { addDays, dayIn, daysBetween, expiryOfDay, isCalendarDay, lastDayOf, runHolding, runsCovering, today, type DayRun } from '../../src/calendar.js'
import { dayBounds } from '../../src/zone-clock.js'
import { ROLLUP_SPANS } from '../../src/store/keys.js'

const HOUR = 3600_000

t.test('the day of an instant depends on the time zone', async (t) => {
  const lateEvening = new Date('2026-03-01T23:30:00Z')
  t.equal(dayIn('UTC', lateEvening), '2026-03-01')
  t.equal(dayIn('Asia/Tokyo', lateEvening), '2026-03-02', 'already tomorrow in Tokyo')
  t.equal(dayIn('America/Los_Angeles', new Date('2026-03-02T07:00:00Z')), '2026-03-01', 'still yesterday in Los Angeles')
  t.match(dayIn('UTC'), /^\d{4}-\d{2}-\d{2}$/, 'now, by default')
})

t.test('today, remembered for a second, still turns at the zone\'s midnight to the millisecond', async (t) => {
  const midnightInTokyo = Date.parse('2026-03-01T15:00:00Z')
  t.equal(today('Asia/Tokyo', midnightInTokyo - 1), '2026-03-01', 'the last millisecond of the day')
  t.equal(today('Asia/Tokyo', midnightInTokyo), '2026-03-02', 'the first of the next')
  t.equal(today('UTC', midnightInTokyo), '2026-03-01', 'each zone its own day in the same second')
  t.equal(today('Asia/Tokyo', midnightInTokyo + 999), '2026-03-02')
  t.equal(today('UTC'), dayIn('UTC'), 'now, by default')
})

t.test('only real calendar dates written YYYY-MM-DD are days', async (t) => {
  for (const day of ['2026-01-01', '2026-12-31', '2024-02-29', '2000-02-29', '1970-01-01', '9999-12-31']) t.ok(isCalendarDay(day), day)
  const notDays = {
    'month 13, day 45': '2026-13-45',
    'February 30th': '2026-02-30',
    'February 29th of a common year': '2026-02-29',
    'February 29th of a century that is no leap year': '1900-02-29',
    'month 0': '2026-00-10',
    'day 0': '2026-01-00',
    'April 31st': '2026-04-31',
    'a word': 'hello',
    'no zero padding': '2026-1-1',
    'a trailing newline': '2026-01-01\n',
    'a leading space': ' 2026-01-01',
    'a time after the date': '2026-01-01T00:00',
    '500 digits': '9'.repeat(500),
    'the empty string': ''
  }
  for (const [name, text] of Object.entries(notDays)) t.notOk(isCalendarDay(text), name)
})

t.test('years before 100 are calendar years too', async (t) => {
  // Date.UTC reads years 0 to 99 as 1900 to 1999.
  t.ok(isCalendarDay('0099-12-31'), '0099-12-31')
  t.ok(isCalendarDay('0001-01-01'), '0001-01-01')
})

t.test('a day\'s data may go RETENTION_DAYS after the day has ended everywhere on Earth', async (t) => {
  const day = '2026-03-01'
  t.equal(expiryOfDay(day, 400), Date.UTC(2026, 2, 1) / 1000 + 402 * 86400)
  // The last place to finish a day is 12 hours behind UTC.
  const [, endInLastZone] = dayBounds(day, 'Etc/GMT+12')
  t.ok(expiryOfDay(day, 30) * 1000 >= endInLastZone + 30 * 86400_000, 'the last zone keeps 30 full days')
  t.ok(expiryOfDay(day, 30) < expiryOfDay(day, 31), 'a longer retention keeps it longer')
})

t.test('a range of days includes both ends', async (t) => {
  t.same(daysBetween('2024-02-27', '2024-03-01'), ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01'], 'over a leap day')
  t.same(daysBetween('2025-12-31', '2026-01-01'), ['2025-12-31', '2026-01-01'], 'over a new year')
  t.same(daysBetween('2026-03-29', '2026-03-29'), ['2026-03-29'], 'one day')
  t.same(daysBetween('2026-03-02', '2026-03-01'), [], 'none when backwards')
  t.equal(daysBetween('2025-01-01', '2025-12-31').length, 365)
  t.same(daysBetween('2100-02-28', '2100-03-01'), ['2100-02-28', '2100-03-01'], 'no leap day in a century year')
  t.same(daysBetween('2000-02-28', '2000-03-01'), ['2000-02-28', '2000-02-29', '2000-03-01'], 'a leap day in a year divisible by 400')
  t.same(daysBetween('2026-04-30', '2026-05-01'), ['2026-04-30', '2026-05-01'], 'after a 30-day month')
  const decades = daysBetween('1995-01-01', '2034-12-31')
  t.ok(decades.every((day, index) => index === 0 || addDays(decades[index - 1] as string, 1) === day), 'every day of forty years follows the one before')
  t.equal(decades.at(-1), '2034-12-31', 'up to the last day')
})

/** Asserts that [start, end) is exactly `day` in `zone`: its first and last instants and no more. */
function assertBoundsOf (t: Test, day: string, zone: string, expectedHours: number): void {
  const [start, end] = dayBounds(day, zone)
  t.equal(dayIn(zone, new Date(start)), day, `${zone} ${day}: the first instant is on the day`)
  t.not(dayIn(zone, new Date(start - 1)), day, `${zone} ${day}: the instant before is not`)
  t.equal(dayIn(zone, new Date(end - 1)), day, `${zone} ${day}: the last instant is on the day`)
  t.not(dayIn(zone, new Date(end)), day, `${zone} ${day}: the end is the next day`)
  t.equal((end - start) / HOUR, expectedHours, `${zone} ${day}: ${expectedHours} hours long`)
}

t.test('a day\'s bounds are its local midnights', async (t) => {
  t.same(dayBounds('2026-03-01', 'UTC'), [Date.UTC(2026, 2, 1), Date.UTC(2026, 2, 2)])
  t.same(dayBounds('2026-03-01', 'Asia/Kathmandu'), [Date.parse('2026-02-28T18:15:00Z'), Date.parse('2026-03-01T18:15:00Z')], 'a zone 5:45 ahead')
  assertBoundsOf(t, '2026-03-01', 'America/New_York', 24)
  assertBoundsOf(t, '2026-03-01', 'Pacific/Kiritimati', 24)
})

t.test('a day with a clock change is shorter or longer', async (t) => {
  assertBoundsOf(t, '2026-03-29', 'Europe/Berlin', 23)
  assertBoundsOf(t, '2026-10-25', 'Europe/Berlin', 25)
  assertBoundsOf(t, '2026-03-08', 'America/New_York', 23)
  assertBoundsOf(t, '2026-04-05', 'Australia/Lord_Howe', 24.5)
  assertBoundsOf(t, '2026-03-29', 'Asia/Beirut', 23)
})

t.test('a day whose midnight is skipped starts when the clocks jump', async (t) => {
  // Chile and Cuba move their clocks from 00:00 straight to 01:00.
  assertBoundsOf(t, '2026-09-06', 'America/Santiago', 23)
  assertBoundsOf(t, '2026-03-08', 'America/Havana', 23)
})

/** Days from 1970-01-01 to `day`, worked out here independently of calendar.ts. */
function dayNumberOf (day: string): number {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number]
  return Date.UTC(year, month - 1, date) / 86400_000
}

/** The mathematical remainder, never negative: what "a whole multiple of n days" means. */
function modulo (value: number, n: number): number {
  return ((value % n) + n) % n
}

t.test('adding days crosses months, years and leap days', async (t) => {
  t.equal(addDays('2026-01-31', 1), '2026-02-01', 'into the next month')
  t.equal(addDays('2025-12-31', 1), '2026-01-01', 'into the next year')
  t.equal(addDays('2026-01-01', -1), '2025-12-31', 'back into the year before')
  t.equal(addDays('2024-02-28', 1), '2024-02-29', 'onto a leap day')
  t.equal(addDays('2024-02-28', 2), '2024-03-01', 'over a leap day')
  t.equal(addDays('2025-02-28', 1), '2025-03-01', 'a common year has no February 29th')
  t.equal(addDays('2000-02-28', 1), '2000-02-29', '2000 is a leap year')
  t.equal(addDays('1900-02-28', 1), '1900-03-01', '1900 is not')
  t.equal(addDays('2024-03-01', -1), '2024-02-29', 'back onto a leap day')
  t.equal(addDays('2024-01-01', 366), '2025-01-01', 'a leap year is 366 days')
  t.equal(addDays('2025-01-01', 365), '2026-01-01', 'a common year is 365 days')
  t.equal(addDays('1970-01-01', -1), '1969-12-31', 'before the epoch')
  t.equal(addDays('2026-03-29', 0), '2026-03-29', 'no days is the same day, clock changes or not')
})

t.test('a run\'s last day is its first plus its length less one', async (t) => {
  t.equal(lastDayOf({ first: '2026-03-01', days: 1 }), '2026-03-01', 'a 1-day run ends the day it starts')
  t.equal(lastDayOf({ first: '2024-02-26', days: 4 }), '2024-02-29', 'four days over a leap day')
  t.equal(lastDayOf({ first: '2025-12-20', days: 16 }), '2026-01-04', 'sixteen days over a new year')
  t.equal(lastDayOf({ first: '1969-12-28', days: 4 }), '1969-12-31', 'before the epoch')
  t.equal(dayNumberOf(lastDayOf({ first: '2025-05-16', days: 256 })) - dayNumberOf('2025-05-16'), 255, '256 days end 255 days later')
})

t.test('the run holding a day is aligned on 1970-01-01 and holds the day', async (t) => {
  const days = ['2026-01-01', '2026-02-28', '2024-02-29', '2026-12-31', '1970-01-01', '1969-12-31', '1969-07-20', '1900-03-01', '2099-12-31']
  for (const day of days) {
    for (const span of [1, 4, 16, 64, 256, 7]) {
      const run = runHolding(day, span)
      const first = dayNumberOf(run.first)
      t.equal(run.days, span, `${day}/${span}: the run is ${span} days long`)
      t.equal(modulo(first, span), 0, `${day}/${span}: its first day ${run.first} is a whole number of ${span}-day runs from 1970-01-01`)
      t.ok(run.first <= day && day <= lastDayOf(run), `${day}/${span}: the run ${run.first}..${lastDayOf(run)} holds the day`)
    }
  }
  t.same(runHolding('1970-01-01', 4), { first: '1970-01-01', days: 4 }, 'the epoch starts every run')
  t.same(runHolding('1969-12-31', 4), { first: '1969-12-28', days: 4 }, 'the day before the epoch ends a run (not the floor of a negative division toward zero)')
  t.same(runHolding('1970-01-04', 4), { first: '1970-01-01', days: 4 }, 'the last day of the first run')
  t.same(runHolding('1970-01-05', 4), { first: '1970-01-05', days: 4 }, 'the first day of the second')
  t.same(runHolding('2026-03-15', 1), { first: '2026-03-15', days: 1 }, 'a 1-day run is the day itself')
  t.same(runHolding('2026-01-01', 256), runHolding('2026-01-02', 256), 'neighbouring days share their 256-day run')
})

/**
 * Asserts that `runs` cover `from`..`to` exactly once, in order, every run aligned on 1970-01-01
 * and inside the range, each the longest of `spans` that starts there and fits, else one day.
 */
function assertCovers (t: Test, from: string, to: string, spans: readonly number[], runs: DayRun[]): void {
  const name = `${from}..${to}`
  let next = dayNumberOf(from)
  for (const run of runs) {
    const first = dayNumberOf(run.first)
    t.equal(first, next, `${name}: run ${run.first}/${run.days} starts right after the run before it: no gap, no overlap`)
    t.equal(modulo(first, run.days), 0, `${name}: run ${run.first}/${run.days} is aligned`)
    t.ok(run.days === 1 || spans.includes(run.days), `${name}: run ${run.first}/${run.days} is one of the spans or a single day`)
    const longest = spans.find((span) => modulo(first, span) === 0 && first + span - 1 <= dayNumberOf(to)) ?? 1
    t.equal(run.days, longest, `${name}: at ${run.first} the longest run that fits is ${longest} days`)
    next = first + run.days
  }
  t.equal(next, dayNumberOf(to) + 1, `${name}: the runs end exactly on the last day`)
}

/**
 * The range of 1 to 366 days that takes the most runs to cover: the rollups repeat every 256
 * days, so ranges starting on 256 days in a row meet every alignment there is.
 */
function mostRuns ({ openEnd }: { openEnd: boolean }): { runs: number, from: string, days: number } {
  let most = { runs: 0, from: '', days: 0 }
  for (let start = 0; start < 256; start += 1) {
    const from = addDays('2026-01-01', start)
    for (let days = 1; days <= 366; days += 1) {
      const runs = runsCovering(from, addDays(from, days - 1), ROLLUP_SPANS, { openEnd }).length
      if (runs > most.runs) most = { runs, from, days }
    }
  }
  return most
}

t.test('a range is covered by aligned runs, greedily longest, exactly once', async (t) => {
  const ranges: Array<[string, string]> = [
    ['2026-01-01', '2026-12-31'],
    ['2025-01-02', '2026-01-02'],
    ['2024-02-27', '2024-03-05'],
    ['1969-06-01', '1970-05-31'],
    ['2026-03-01', '2026-03-02'],
    ['2025-05-16', '2026-01-26']
  ]
  for (const [from, to] of ranges) assertCovers(t, from, to, ROLLUP_SPANS, runsCovering(from, to, ROLLUP_SPANS))
  t.same(runsCovering('2025-05-16', '2026-01-26', ROLLUP_SPANS), [{ first: '2025-05-16', days: 256 }], 'an aligned 256-day run is one run')
  t.same(runsCovering('2026-01-02', '2026-01-08', ROLLUP_SPANS), [
    { first: '2026-01-02', days: 1 },
    { first: '2026-01-03', days: 4 },
    { first: '2026-01-07', days: 1 },
    { first: '2026-01-08', days: 1 }
  ], 'single days up to an aligned 4-day run, which is taken, and single days after it')
  t.same(runsCovering('2026-01-03', '2026-01-05', ROLLUP_SPANS), [
    { first: '2026-01-03', days: 1 },
    { first: '2026-01-04', days: 1 },
    { first: '2026-01-05', days: 1 }
  ], 'an aligned run that would end after the range is not taken')
})

t.test('a range up to today may end on a run still in progress, which holds no later day', async (t) => {
  const year = runsCovering('2025-11-25', '2026-11-25', ROLLUP_SPANS, { openEnd: true })
  t.same(year.slice(-2), [{ first: '2026-01-27', days: 256 }, { first: '2026-10-10', days: 256 }], 'the year up to today ends on the 256-day run that today is in')
  t.equal(year.length, 11, 'so it takes 11 runs, where it took 18 ending on single days')
  assertCovers(t, '2025-11-25', '2026-10-09', ROLLUP_SPANS, year.slice(0, -1))
  t.same(runsCovering('2026-01-02', '2026-01-05', ROLLUP_SPANS, { openEnd: true }), [
    { first: '2026-01-02', days: 1 },
    { first: '2026-01-03', days: 4 }
  ], 'the 4-day run holding the last day is taken though it ends after it')
  t.same(runsCovering('2026-01-02', '2026-01-02', ROLLUP_SPANS, { openEnd: true }), [{ first: '2026-01-02', days: 1 }], 'a run that starts before the range is never taken')
  t.equal(mostRuns({ openEnd: true }).runs, 13, 'any range of up to 366 days that ends today is read from at most 13 runs, where a closed one may need 21')
})

t.test('a 1-day range is that day alone', async (t) => {
  for (const day of ['2026-03-01', '2025-05-16', '1970-01-01', '1969-12-31']) {
    t.same(runsCovering(day, day, ROLLUP_SPANS), [{ first: day, days: 1 }], `${day}, aligned on every span or not`)
  }
})

t.test('any range of up to 366 days is read from at most 21 runs', async (t) => {
  // Worst case in theory: up to 3 single days, 3 4-day and 3 16-day runs up to a 64-day
  // boundary, 3 64-day runs up to a 256-day one, one 256-day run, then as many on the way
  // down: 25. A range of 366 days can't have both ends that bad: 21 is the most any has.
  const most = mostRuns({ openEnd: false })
  t.ok(most.runs <= 21, `the worst range, ${most.days} days from ${most.from}, is read from ${most.runs} runs: at most 21, where one key per day made 366`)
  t.equal(most.runs, 21, 'and 21 is reached, so the bound is the real one')
  const year = runsCovering('2026-01-01', '2026-12-31', ROLLUP_SPANS)
  assertCovers(t, '2026-01-01', '2026-12-31', ROLLUP_SPANS, year)
  t.ok(year.length <= 21, `the year 2026 takes ${year.length} runs`)
})
