/* global uPlot */

// The time zone the dashboard's days are of, and the hours of a one-day range as that zone's
// clock has them (GET stats/:day/hours): a module dashboard.js imports at its start.

const hoursPanel = document.getElementById('hours')
const hoursBox = document.getElementById('hours-chart')
const HOURS_CHART_HEIGHT = 240
/** Room an hour's label needs under the chart, in CSS pixels. */
const HOUR_LABEL_WIDTH = 44
const hourCount = new Intl.NumberFormat('en-US')
/** Tick steps for the count axis: whole numbers only. */
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6]
const hourViewBars = uPlot.paths.bars({ size: [0.7, 48] })
const hourUniqueBars = uPlot.paths.bars({ size: [0.35, 24] })

let hoursChart = null

/**
 * The zones to choose from: every zone this browser knows, and the site's (its TIME_ZONE,
 * which the page says) marked as such. `asked`, a zone from the address, is chosen, else the site's.
 */
export function fillTimeZones (select, asked) {
  const site = select.dataset.siteZone
  const zones = Intl.supportedValuesOf('timeZone').filter((zone) => zone !== site && zone !== asked)
  const first = asked === null || asked === site ? [site] : [site, asked]
  select.replaceChildren(...[...first, ...zones].map((zone) => new Option(zone === site ? `${zone} (the site's)` : zone, zone)))
  select.value = asked ?? site
}

/** The clock's time of an hour's ISO label: 2026-10-25T02:00:00+01:00 → 02:00. */
function clockTime (label) {
  return label.slice(11, 16)
}

/** Draws a day's hours, a bar each at its own instant: the day the clocks go back has 02:00 twice. */
export function showHours ({ day, timeZone, hours }) {
  hoursPanel.hidden = false
  document.getElementById('hours-day').textContent = `on ${day} in ${timeZone}`
  const data = [hours.map(({ hour }) => Date.parse(hour) / 1000), hours.map(({ views }) => views), hours.map(({ uniques }) => uniques)]
  const count = (_chart, value) => value == null ? '–' : hourCount.format(value)
  hoursChart?.destroy()
  hoursChart = new uPlot({
    width: hoursBox.clientWidth,
    height: HOURS_CHART_HEIGHT,
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: false, range: (plot) => [plot.data[0][0] - 1800, plot.data[0].at(-1) + 1800] },
      y: { range: (_chart, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] }
    },
    series: [
      { label: 'Hour', value: (_chart, _value, _series, index) => index == null ? '–' : `${clockTime(hours[index].hour)} (${hours[index].hour.slice(19)})` },
      { label: 'Views', stroke: '#2563eb', fill: '#2563eb', width: 0, paths: hourViewBars, points: { show: false }, value: count },
      { label: 'Unique visitors', stroke: '#db2777', fill: '#db2777', width: 0, paths: hourUniqueBars, points: { show: false }, value: count }
    ],
    axes: [
      {
        stroke: '#64748b',
        grid: { show: false },
        ticks: { stroke: '#e2e8f0' },
        // Every hour while the labels fit, else every n-th.
        splits: (plot) => {
          const every = Math.max(1, Math.ceil((hours.length * HOUR_LABEL_WIDTH) / (plot.bbox.width / uPlot.pxRatio)))
          return plot.data[0].filter((_stamp, index) => index % every === 0)
        },
        values: (plot, splits) => splits.map((stamp) => clockTime(hours[plot.data[0].indexOf(stamp)].hour))
      },
      { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { show: false }, incrs: WHOLE_STEPS, values: (_chart, splits) => splits.map((value) => hourCount.format(value)) }
    ]
  }, data, hoursBox)
  document.querySelector('#hours-table tbody').replaceChildren(...hours.map(({ hour, views, uniques }) => {
    const tr = document.createElement('tr')
    for (const text of [`${clockTime(hour)} (${hour.slice(19)})`, hourCount.format(views), hourCount.format(uniques)]) {
      const td = document.createElement('td')
      td.textContent = text
      tr.append(td)
    }
    return tr
  }))
}

/** A range of more than one day has no hours to show. */
export function hideHours () {
  hoursPanel.hidden = true
  hoursChart?.destroy()
  hoursChart = null
}

new ResizeObserver(() => hoursChart?.setSize({ width: hoursBox.clientWidth, height: HOURS_CHART_HEIGHT })).observe(hoursBox)
