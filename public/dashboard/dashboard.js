'use strict'
/* global uPlot */

// The dashboard reads the same JSON endpoints as anyone with the token; the browser sends the
// Basic credentials it logged in with. Every value from the API goes into the DOM as text:
// user agents and referrers are written by visitors. URLs are relative to the page's own, so
// the dashboard works behind a proxy that serves the service under a path (/analytics/...).

const form = document.getElementById('range')
const chartBox = document.getElementById('chart')
const CHART_HEIGHT = 300
const DAYS_SHOWN_BY_DEFAULT = 30
const VISITS_PER_PAGE = 25
/** Log entries read per request while looking for one page's visits. */
const VISITS_READ_AT_ONCE = 200
const numberFormat = new Intl.NumberFormat('en-US')
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
const monthFormat = new Intl.DateTimeFormat('en-US', { month: 'short', timeZone: 'UTC' })
const DAY_SECONDS = 86400
/** Room a day's label needs under the chart, in CSS pixels. */
const LABEL_WIDTH = 30
/** Tick steps for the count axis: whole numbers only. */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6]

const viewBars = uPlot.paths.bars({ size: [0.7, 64] })
const uniqueBars = uPlot.paths.bars({ size: [0.35, 32] })

let chart = null
/** The page and day the visits shown are of, and the cursor for older ones (null when there are none). */
let visitsShown = { page: '', day: '', next: null }
/** Counts the requests for visits, so an answer to an earlier one is not shown over a later one. */
let visitsAsked = 0
/** hours.js: the zones to choose from, and a one-day range's hours; imported at the start. */
let dashboardHours = null
/** The range's top referrers by site and by page, as { label, views }, and which of the two is shown (sites unless asked). */
let referrersShown = { by: 'site', site: [], page: [] }

/** The JSON an endpoint answers; its error message when it answers an error. */
async function getJson (url) {
  const response = await fetch(url, { headers: { accept: 'application/json' } })
  const body = await response.json().catch(() => null)
  if (!response.ok) throw new Error(body?.message ?? `${url} answered ${response.status}`)
  return body
}

function addDays (day, count) {
  const date = new Date(`${day}T00:00:00Z`)
  date.setUTCDate(date.getUTCDate() + count)
  return date.toISOString().slice(0, 10)
}

function showError (error) {
  const box = document.getElementById('error')
  box.textContent = error === null ? '' : error.message
  box.hidden = error === null
}

function setText (id, value) {
  document.getElementById(id).textContent = typeof value === 'number' ? numberFormat.format(value) : value
}

function cell (text, className) {
  const td = document.createElement('td')
  td.textContent = text
  if (className !== undefined) td.className = className
  return td
}

function row (...cells) {
  const tr = document.createElement('tr')
  tr.append(...cells)
  return tr
}

function emptyRow (columns, text) {
  const td = cell(text, 'empty')
  td.colSpan = columns
  return row(td)
}

/** The days to label: every one while their labels fit, else every n-th counted back from the last, which is always labelled. */
function labelledDays (plot) {
  const stamps = plot.data[0]
  const every = Math.max(1, Math.ceil((stamps.length * LABEL_WIDTH) / (plot.bbox.width / uPlot.pxRatio)))
  return stamps.filter((_stamp, index) => (stamps.length - 1 - index) % every === 0)
}

/** A day's label: its day of the month, with the month under the first label and where a month begins. */
function dayLabels (_plot, stamps) {
  return stamps.map((stamp, index) => {
    const date = new Date(stamp * 1000)
    const newMonth = index === 0 || date.getUTCMonth() !== new Date(stamps[index - 1] * 1000).getUTCMonth()
    return newMonth ? `${date.getUTCDate()}\n${monthFormat.format(date)}` : String(date.getUTCDate())
  })
}

function drawChart (days) {
  // Days are calendar dates: plot them at UTC midnight and label them in UTC, so no zone shifts them.
  const data = [
    days.map(({ day }) => Date.parse(`${day}T00:00:00Z`) / 1000),
    days.map(({ views }) => views),
    days.map(({ uniques }) => uniques)
  ]
  // A new chart for each range: uPlot's setData keeps the legend and the axes of the range before.
  chart?.destroy()
  const count = (_chart, value) => value == null ? '–' : numberFormat.format(value)
  chart = new uPlot({
    width: chartBox.clientWidth,
    height: CHART_HEIGHT,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false } },
    // Away from the cursor, the legend shows the latest day rather than dashes.
    hooks: { setCursor: [(plot) => { if (plot.cursor.idx == null) plot.setLegend({ idx: plot.data[0].length - 1 }, false) }] },
    scales: {
      // The range's days and half a day either side, so the first and last days' bars are whole.
      x: { time: true, range: (plot) => [plot.data[0][0] - DAY_SECONDS / 2, plot.data[0].at(-1) + DAY_SECONDS / 2] },
      y: { range: (_chart, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] }
    },
    series: [
      { label: 'Day', value: '{YYYY}-{MM}-{DD}' },
      // Each day is a bar: the views, and in front of them the visitors who made them.
      { label: 'Views', stroke: '#2563eb', fill: '#2563eb', width: 0, paths: viewBars, points: { show: false }, value: count },
      { label: 'Unique visitors', stroke: '#db2777', fill: '#db2777', width: 0, paths: uniqueBars, points: { show: false }, value: count }
    ],
    axes: [
      { stroke: '#64748b', grid: { show: false }, ticks: { stroke: '#e2e8f0' }, size: 56, splits: labelledDays, values: dayLabels },
      { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { show: false }, incrs: COUNT_STEPS, values: (_chart, splits) => splits.map((value) => numberFormat.format(value)) }
    ]
  }, data, chartBox)
}

/** A count, or a dash for one not answered: another zone's days have no new and returning visitors. */
function countText (value) {
  return value === undefined ? '–' : numberFormat.format(value)
}

function showDays (days) {
  const body = document.querySelector('#days tbody')
  body.replaceChildren(...days.map((day) => row(
    cell(day.day), cell(numberFormat.format(day.views)), cell(numberFormat.format(day.uniques)),
    cell(countText(day.new)), cell(countText(day.returning)), cell(numberFormat.format(day.bots))
  )))
}

function showMix (stats) {
  if (stats.new === undefined) {
    // A visitor is new or returning by the site's days, which another zone's are not.
    for (const part of document.querySelectorAll('#mix span')) part.style.width = '0%'
    setText('mix-new', '–')
    setText('mix-returning', '–')
    return
  }
  const people = stats.new + stats.returning
  const share = (count) => people === 0 ? 0 : Math.round((count / people) * 100)
  document.querySelector('#mix .new').style.width = `${share(stats.new)}%`
  document.querySelector('#mix .returning').style.width = `${people === 0 ? 0 : 100 - share(stats.new)}%`
  setText('mix-new', people === 0 ? '0' : `${numberFormat.format(stats.new)} · ${share(stats.new)} %`)
  setText('mix-returning', people === 0 ? '0' : `${numberFormat.format(stats.returning)} · ${100 - share(stats.new)} %`)
}

/** The range's referrers as the toggle asks: summed by site, or page by page. */
function showReferrers () {
  const { by } = referrersShown
  const referrers = referrersShown[by]
  for (const button of document.querySelectorAll('#referrers-by button')) button.setAttribute('aria-pressed', String(button.dataset.by === by))
  setText('referrers-kind', by === 'site' ? 'Site' : 'Page')
  const body = document.querySelector('#referrers tbody')
  if (referrers.length === 0) {
    body.replaceChildren(emptyRow(2, 'No referrers in this range'))
    return
  }
  const most = referrers[0].views
  body.replaceChildren(...referrers.map(({ label, views }) => {
    const bar = document.createElement('span')
    bar.className = 'share'
    bar.style.width = `${Math.round((views / most) * 100)}%`
    const name = document.createElement('span')
    name.className = 'label'
    name.textContent = label
    const source = cell('', 'source')
    source.title = label
    source.append(bar, name)
    return row(source, cell(numberFormat.format(views)))
  }))
}

async function showRange () {
  const { page, from, to, tz } = Object.fromEntries(new FormData(form))
  // Without tz, the site's zone (TIME_ZONE): its days are those /stats answers by default.
  const zone = tz === form.elements.tz.dataset.siteZone ? {} : { tz }
  history.replaceState(null, '', `?${new URLSearchParams({ page, from, to, ...zone })}`)
  const download = document.getElementById('download-days')
  try {
    const stats = await getJson(`stats?${new URLSearchParams({ page, from, to, ...zone })}`)
    showError(null)
    // The days shown, as a file: the service names it and says to save it (Content-Disposition).
    download.href = `stats?${new URLSearchParams({ page, from, to, ...zone, format: 'csv' })}`
    setText('total-views', stats.views)
    setText('total-uniques', stats.uniques)
    setText('total-new', countText(stats.new))
    setText('total-returning', countText(stats.returning))
    setText('total-bots', stats.bots)
    drawChart(stats.days)
    showDays(stats.days)
    showMix(stats)
    referrersShown = {
      by: referrersShown.by,
      site: stats.referrerSites.map(({ site, views }) => ({ label: site, views })),
      page: stats.referrers.map(({ referrer, views }) => ({ label: referrer, views }))
    }
    showReferrers()
    // One day: its hours too, as the zone's clock has them.
    if (from === to) dashboardHours.showHours(await getJson(`stats/${from}/hours?${new URLSearchParams({ page, ...zone })}`))
    else dashboardHours.hideHours()
  } catch (error) {
    // Nothing shown, nothing to download.
    download.removeAttribute('href')
    showError(error)
  }
}

function visitRow (visit) {
  const time = cell(timeFormat.format(new Date(visit.time)))
  time.title = visit.time
  const visitor = cell(visit.visitor.slice(0, 8), 'visitor')
  visitor.title = visit.visitor
  const agent = cell(visit.userAgent, 'agent')
  agent.title = visit.userAgent
  const referrer = cell(visit.referrer === '' ? '—' : visit.referrer, 'referrer')
  referrer.title = visit.referrer
  const kind = cell(visit.returning ? 'returning' : 'new', `kind ${visit.returning ? 'returning' : 'new'}`)
  return row(time, cell(visit.page), visitor, kind, cell(visit.ip), referrer, agent)
}

/**
 * Up to VISITS_PER_PAGE of `page`'s visits on `day`, newest first, older than the `before`
 * cursor; and the cursor for the ones after them. The log holds every page's visits, so it is
 * read on until enough are the page's.
 */
async function readVisits ({ page, day, before }) {
  const found = []
  let cursor = before
  for (;;) {
    const query = new URLSearchParams({ day, limit: String(VISITS_READ_AT_ONCE) })
    if (cursor !== null) query.set('before', cursor)
    const { visits, next } = await getJson(`visitors?${query}`)
    for (const [index, visit] of visits.entries()) {
      if (visit.page !== page) continue
      found.push(visit)
      if (found.length === VISITS_PER_PAGE) return { visits: found, next: index === visits.length - 1 ? next : visit.id }
    }
    if (next === null) return { visits: found, next: null }
    cursor = next
  }
}

/** The chosen page's visits on the range's last day; with `older`, the next ones after those shown. */
async function showVisits (older = false) {
  const { page, to } = Object.fromEntries(new FormData(form))
  // Older visits go on from those shown, whatever the form says by now.
  const asking = older ? visitsShown : { page, day: to, next: null }
  const asked = ++visitsAsked
  try {
    const { visits, next } = await readVisits({ page: asking.page, day: asking.day, before: asking.next })
    // A later range or page was asked for meanwhile: its visits are the ones to show.
    if (asked !== visitsAsked) return
    const body = document.querySelector('#visits tbody')
    const rows = visits.map(visitRow)
    if (older) body.append(...rows)
    else body.replaceChildren(...(rows.length === 0 ? [emptyRow(7, 'No visits on this day')] : rows))
    setText('visits-day', `of ${asking.page} on ${asking.day}`)
    visitsShown = { ...asking, next }
    document.getElementById('more-visits').hidden = next === null
  } catch (error) {
    showError(error)
  }
}

/** The numbers and the visits for what the form says. */
async function showAll () {
  await Promise.all([showRange(), showVisits()])
}

async function start () {
  const asked = new URLSearchParams(location.search)
  // Relative to this script's address, as every URL here is to the page's.
  dashboardHours = await import('./hours.js')
  dashboardHours.fillTimeZones(form.elements.tz, asked.get('tz'))
  // Today as the service counts it (in its TIME_ZONE, or the zone in the address), not as this browser's clock has it.
  const { day: today } = await getJson(`stats/today${asked.has('tz') ? `?${new URLSearchParams({ tz: asked.get('tz') })}` : ''}`)
  if (asked.has('page')) form.elements.page.value = asked.get('page')
  form.elements.to.value = asked.get('to') ?? today
  form.elements.from.value = asked.get('from') ?? addDays(form.elements.to.value, 1 - DAYS_SHOWN_BY_DEFAULT)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    showAll()
  })
  form.elements.page.addEventListener('change', () => showAll())
  form.elements.tz.addEventListener('change', () => showAll())
  document.getElementById('more-visits').addEventListener('click', () => showVisits(true))
  for (const button of document.querySelectorAll('#referrers-by button')) {
    button.addEventListener('click', () => {
      referrersShown.by = button.dataset.by
      showReferrers()
    })
  }
  new ResizeObserver(() => chart?.setSize({ width: chartBox.clientWidth, height: CHART_HEIGHT })).observe(chartBox)
  await showAll()
}

start().catch(showError).finally(() => document.querySelector('main').setAttribute('aria-busy', 'false'))
