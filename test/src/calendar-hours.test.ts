import t, { type Test } from 'tap'
import { dayBounds, hoursOfDay, sameTimeZone, timeZoneNamed, utcDayAndHour, utcHourOf, utcHoursWithin } from '../../src/zone-clock.js'

const HOUR = 3600_000
const MINUTE = 60_000

/** Asserts that the hours of `day` in `zone` follow each other from its first instant to its last, and have these labels. */
function assertHours (t: Test, day: string, zone: string, labels: string[]): void {
  const hours = hoursOfDay(day, zone)
  const [start, end] = dayBounds(day, zone)
  t.same(hours.map(({ label }) => label), labels, `${zone} ${day}: ${labels.length} hours, labelled as the clock shows them`)
  t.equal(hours[0]?.start, start, `${zone} ${day}: the first starts with the day`)
  t.equal(hours.at(-1)?.end, end, `${zone} ${day}: the last ends with it`)
  t.ok(hours.every((hour, index) => index === 0 || hours[index - 1]?.end === hour.start), `${zone} ${day}: each starts where the one before ends`)
  t.ok(hours.every((hour) => Date.parse(hour.label) === hour.start), `${zone} ${day}: each label is its start`)
}

/** `count` labels of whole hours from `first` (0-23) on `day` at `offset`. */
function labels (day: string, first: number, count: number, offset: string): string[] {
  return Array.from({ length: count }, (_, index) => `${day}T${String(first + index).padStart(2, '0')}:00:00${offset}`)
}

t.test('a day has 24 hours of its clock, in any offset', async (t) => {
  assertHours(t, '2026-03-01', 'UTC', labels('2026-03-01', 0, 24, '+00:00'))
  assertHours(t, '2026-03-01', 'Asia/Kathmandu', labels('2026-03-01', 0, 24, '+05:45'))
  t.equal(new Date(hoursOfDay('2026-03-01', 'Asia/Kathmandu')[0]?.start as number).toISOString(), '2026-02-28T18:15:00.000Z', 'Kathmandu\'s day starts at a quarter past an hour in UTC')
  assertHours(t, '2026-03-01', 'America/St_Johns', labels('2026-03-01', 0, 24, '-03:30'))
})

t.test('the day the clocks go forward has 23 hours, the day they go back 25', async (t) => {
  assertHours(t, '2026-03-29', 'Europe/Berlin', [...labels('2026-03-29', 0, 2, '+01:00'), ...labels('2026-03-29', 3, 21, '+02:00')])
  assertHours(t, '2026-10-25', 'Europe/Berlin', [...labels('2026-10-25', 0, 3, '+02:00'), ...labels('2026-10-25', 2, 22, '+01:00')])
  assertHours(t, '2026-03-08', 'America/New_York', [...labels('2026-03-08', 0, 2, '-05:00'), ...labels('2026-03-08', 3, 21, '-04:00')])
  assertHours(t, '2026-11-01', 'America/New_York', [...labels('2026-11-01', 0, 2, '-04:00'), ...labels('2026-11-01', 1, 23, '-05:00')])
})

t.test('Lord Howe\'s clocks change by half an hour: one hour of the day is half as long', async (t) => {
  // April: at 02:00 (+11:00) the clocks go back to 01:30 (+10:30).
  assertHours(t, '2026-04-05', 'Australia/Lord_Howe', [...labels('2026-04-05', 0, 2, '+11:00'), '2026-04-05T01:30:00+10:30', ...labels('2026-04-05', 2, 22, '+10:30')])
  // October: at 02:00 (+10:30) they go forward to 02:30 (+11:00).
  assertHours(t, '2026-10-04', 'Australia/Lord_Howe', [...labels('2026-10-04', 0, 2, '+10:30'), '2026-10-04T02:30:00+11:00', ...labels('2026-10-04', 3, 21, '+11:00')])
  const half = hoursOfDay('2026-04-05', 'Australia/Lord_Howe')[2]
  t.equal((half?.end as number) - (half?.start as number), 30 * MINUTE, 'the 01:30 hour after the change lasts until 02:00')
})

t.test('a day whose midnight is skipped starts with the hour the clocks jump to', async (t) => {
  assertHours(t, '2026-09-06', 'America/Santiago', labels('2026-09-06', 1, 23, '-03:00'))
})

t.test('a clock change between full hours cuts the hour it falls in', async (t) => {
  // Until 2011 Newfoundland changed its clocks at one minute past midnight.
  const hours = hoursOfDay('2010-03-14', 'America/St_Johns')
  t.same(hours.slice(0, 3).map(({ label }) => label), ['2010-03-14T00:00:00-03:30', '2010-03-14T01:01:00-02:30', '2010-03-14T02:00:00-02:30'])
  t.equal((hours[0]?.end as number) - (hours[0]?.start as number), MINUTE, 'the first hour lasts a minute')
  t.equal(hours.length, 24)
})

t.test('local mean times before the time zones were set get offsets with seconds', async (t) => {
  t.equal(hoursOfDay('1880-06-01', 'Europe/Berlin')[0]?.label, '1880-06-01T00:00:00+00:53:28')
})

t.test('days in the first centuries and across New Year have their own bounds', async (t) => {
  // Years 0 to 99 are not 1900 to 1999, and Intl writes 1 BC as the year 1.
  for (const day of ['0050-06-01', '0000-03-01', '0001-01-01']) {
    const [start, end] = dayBounds(day, 'Asia/Tokyo')
    t.equal(end - start, 24 * HOUR, `${day}: 24 hours`)
    t.equal(new Date(start + 15 * HOUR).toISOString().slice(0, 10), day, `${day}: starts about 15 hours before its UTC midnight, the day before in UTC`)
  }
  t.same(dayBounds('2026-01-01', 'Asia/Tokyo'), [Date.parse('2025-12-31T15:00:00Z'), Date.parse('2026-01-01T15:00:00Z')], 'a new year that starts before UTC\'s')
  t.same(dayBounds('2025-12-31', 'America/New_York'), [Date.parse('2025-12-31T05:00:00Z'), Date.parse('2026-01-01T05:00:00Z')], 'an old year that ends after UTC\'s')
})

t.test('a span\'s UTC hours are those whose middle it holds', async (t) => {
  const hourAt = (iso: string): number => utcHourOf(Date.parse(iso))
  const [start, end] = dayBounds('2026-03-01', 'UTC')
  t.same(utcHoursWithin(start, end), Array.from({ length: 24 }, (_, index) => hourAt('2026-03-01T00:00Z') + index), 'a UTC day: its own 24')
  const [kathmandu, kathmanduEnd] = dayBounds('2026-03-01', 'Asia/Kathmandu')
  const hours = utcHoursWithin(kathmandu, kathmanduEnd)
  t.same([hours[0], hours.at(-1), hours.length], [hourAt('2026-02-28T18:00Z'), hourAt('2026-03-01T17:00Z'), 24], 'Kathmandu: from 18:00 UTC the day before, which it holds 45 minutes of, to 17:00')
  const [kolkata, kolkataEnd] = dayBounds('2026-03-01', 'Asia/Kolkata')
  t.same(utcHoursWithin(kolkata, kolkataEnd)[0], hourAt('2026-02-28T18:00Z'), 'Kolkata (+05:30) starts at 18:30 UTC: the hour from 18:00, its middle on the day\'s first instant')
  t.same(utcHoursWithin(Date.parse('2026-04-05T15:00Z'), Date.parse('2026-04-05T15:30Z')), [], 'Lord Howe\'s half hour holds no hour\'s middle')
  t.same(utcDayAndHour(hourAt('2026-03-01T07:59Z')), ['2026-03-01', '07'])
})

t.test('a time zone is named as Intl names it, and only a zone of the tz database is one', async (t) => {
  t.equal(timeZoneNamed('utc'), 'UTC')
  t.equal(timeZoneNamed('america/new_york'), 'America/New_York')
  t.equal(timeZoneNamed('Asia/Kathmandu'), 'Asia/Kathmandu', 'as asked, whatever Intl calls it')
  t.equal(timeZoneNamed('US/Eastern'), 'US/Eastern')
  t.ok(sameTimeZone('US/Eastern', 'America/New_York'), 'one zone by two names')
  t.ok(sameTimeZone('Asia/Kathmandu', 'asia/kathmandu'))
  t.notOk(sameTimeZone('Europe/Berlin', 'Europe/Paris'), 'two zones with the same clock today are two zones')
  for (const name of ['Mars/Olympus_Mons', '+05:30', '-08:00', 'Europe/Berlin_', '']) t.equal(timeZoneNamed(name), null, JSON.stringify(name))
})
