import t, { type Test } from 'tap'
import { dayBounds, dayIn, daysBetween, expiryOfDay, isCalendarDay, today } from '../../src/calendar.js'

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
