'use strict'
/* global uPlot */

// The dashboard reads the same JSON endpoints as anyone with the token; the browser sends the
// Basic credentials it logged in with. Every value from the API goes into the DOM as text:
// user agents and referrers are written by visitors.

const form = document.getElementById('range')
const chartBox = document.getElementById('chart')
const CHART_HEIGHT = 300
const DAYS_SHOWN_BY_DEFAULT = 30
const VISITS_PER_PAGE = 25
const numberFormat = new Intl.NumberFormat('en-US')
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
/** Tick steps for the count axis: whole numbers only. */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6]

let chart = null
let visitsCursor = null

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

function drawChart (days) {
  // Days are calendar dates: plot them at UTC midnight and label them in UTC, so no zone shifts them.
  const data = [
    days.map(({ day }) => Date.parse(`${day}T00:00:00Z`) / 1000),
    days.map(({ views }) => views),
    days.map(({ uniques }) => uniques)
  ]
  if (chart !== null) {
    chart.setData(data)
    return
  }
  const count = (_chart, value) => value == null ? '–' : numberFormat.format(value)
  chart = new uPlot({
    width: chartBox.clientWidth,
    height: CHART_HEIGHT,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false } },
    // Away from the cursor, the legend shows the latest day rather than dashes.
    hooks: { setCursor: [(plot) => { if (plot.cursor.idx == null) plot.setLegend({ idx: plot.data[0].length - 1 }, false) }] },
    scales: { y: { range: (_chart, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
    series: [
      { label: 'Day', value: '{YYYY}-{MM}-{DD}' },
      { label: 'Views', stroke: '#2563eb', fill: 'rgba(37, 99, 235, 0.10)', width: 2, value: count },
      { label: 'Unique visitors', stroke: '#db2777', width: 2, value: count }
    ],
    axes: [
      { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' } },
      { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { show: false }, incrs: COUNT_STEPS, values: (_chart, splits) => splits.map((value) => numberFormat.format(value)) }
    ]
  }, data, chartBox)
  new ResizeObserver(() => chart.setSize({ width: chartBox.clientWidth, height: CHART_HEIGHT })).observe(chartBox)
}

function showDays (days) {
  const body = document.querySelector('#days tbody')
  body.replaceChildren(...days.map((day) => row(
    cell(day.day), cell(numberFormat.format(day.views)), cell(numberFormat.format(day.uniques)),
    cell(numberFormat.format(day.new)), cell(numberFormat.format(day.returning)), cell(numberFormat.format(day.bots))
  )))
}

function showMix (stats) {
  const people = stats.new + stats.returning
  const share = (count) => people === 0 ? 0 : Math.round((count / people) * 100)
  document.querySelector('#mix .new').style.width = `${share(stats.new)}%`
  document.querySelector('#mix .returning').style.width = `${people === 0 ? 0 : 100 - share(stats.new)}%`
  setText('mix-new', people === 0 ? '0' : `${numberFormat.format(stats.new)} · ${share(stats.new)} %`)
  setText('mix-returning', people === 0 ? '0' : `${numberFormat.format(stats.returning)} · ${100 - share(stats.new)} %`)
}

function showReferrers (referrers) {
  const body = document.querySelector('#referrers tbody')
  if (referrers.length === 0) {
    body.replaceChildren(emptyRow(2, 'No referrers in this range'))
    return
  }
  const most = referrers[0].views
  body.replaceChildren(...referrers.map(({ referrer, views }) => {
    const bar = document.createElement('span')
    bar.className = 'share'
    bar.style.width = `${Math.round((views / most) * 100)}%`
    const label = document.createElement('span')
    label.className = 'label'
    label.textContent = referrer
    const source = cell('', 'source')
    source.title = referrer
    source.append(bar, label)
    return row(source, cell(numberFormat.format(views)))
  }))
}

async function showRange () {
  const { page, from, to } = Object.fromEntries(new FormData(form))
  history.replaceState(null, '', `?${new URLSearchParams({ page, from, to })}`)
  try {
    const stats = await getJson(`/stats?${new URLSearchParams({ page, from, to })}`)
    showError(null)
    setText('total-views', stats.views)
    setText('total-uniques', stats.uniques)
    setText('total-new', stats.new)
    setText('total-returning', stats.returning)
    setText('total-bots', stats.bots)
    drawChart(stats.days)
    showDays(stats.days)
    showMix(stats)
    showReferrers(stats.referrers)
  } catch (error) {
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

/** Today's visits, newest first; with `older`, the next page after those shown. */
async function showVisits (older = false) {
  const query = new URLSearchParams({ day: 'today', limit: String(VISITS_PER_PAGE) })
  if (older) query.set('before', visitsCursor)
  try {
    const { day, visits, next } = await getJson(`/visitors?${query}`)
    const body = document.querySelector('#visits tbody')
    const rows = visits.map(visitRow)
    if (older) body.append(...rows)
    else body.replaceChildren(...(rows.length === 0 ? [emptyRow(7, 'No visits yet today')] : rows))
    setText('visits-day', `on ${day}`)
    visitsCursor = next
    document.getElementById('more-visits').hidden = next === null
  } catch (error) {
    showError(error)
  }
}

async function start () {
  const asked = new URLSearchParams(location.search)
  // Today as the service counts it (its TIME_ZONE), not as this browser's clock has it.
  const { day: today } = await getJson('/stats/today')
  if (asked.has('page')) form.elements.page.value = asked.get('page')
  form.elements.to.value = asked.get('to') ?? today
  form.elements.from.value = asked.get('from') ?? addDays(form.elements.to.value, 1 - DAYS_SHOWN_BY_DEFAULT)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    showRange()
  })
  form.elements.page.addEventListener('change', () => showRange())
  document.getElementById('more-visits').addEventListener('click', () => showVisits(true))
  await Promise.all([showRange(), showVisits()])
}

start().catch(showError).finally(() => document.querySelector('main').setAttribute('aria-busy', 'false'))
