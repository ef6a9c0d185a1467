// thead: counts a view of the page named in data-page (README: "Counting pages served elsewhere").
(function () {
  var script = document.currentScript
  if (!script || !navigator.sendBeacon) return
  function send () {
    var view = JSON.stringify({ page: script.getAttribute('data-page'), url: location.origin + location.pathname, referrer: document.referrer })
    // text/plain makes a simple request: no CORS preflight, which a beacon can't wait for.
    navigator.sendBeacon(new URL('/count', script.src).href, new Blob([view], { type: 'text/plain' }))
  }
  // A page rendered ahead of a click is counted only once it is shown.
  if (document.prerendering) document.addEventListener('prerenderingchange', send, { once: true })
  else send()
})()
