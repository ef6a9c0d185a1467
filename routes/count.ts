/**
 * Counting pages served elsewhere: a page in PAGES_FILE with "origins" and no template is
 * counted by /count.js's beacon (POST /count) or by /count.gif, through the same path as
 * thead's own pages (src/take-view.ts). A view is taken only from the page's own origins.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { projectRoot } from '../src/config.js'
import { HttpError } from '../src/errors.js'
import { isServed, type ExternalPage } from '../src/pages.js'
import { pageNamed } from '../src/requests.js'
import { errorResponses } from '../src/schemas.js'
import { takeView } from '../src/take-view.js'

const COUNT_SCRIPT = join(projectRoot, 'public', 'count', 'count.js')
/** A transparent 1×1 GIF, the smallest image every mail client shows. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')

const errorAnswer = (description: string): ReturnType<typeof Type.Ref> => Type.Ref('ErrorResponse', { description })

/** The error answers of /count and /count.gif; none of them writes anything. */
const countErrors = {
  400: errorResponses[400],
  403: errorAnswer('The page is one of thead\'s own (counted when it is loaded), or the view came from an origin not listed for the page'),
  404: errorAnswer('No page of that name in PAGES_FILE')
}

const PageName = Type.String({ pattern: '^[a-z0-9-]{1,32}$', description: 'A page in PAGES_FILE that has "origins" (is served elsewhere)' })

const Beacon = Type.Object({
  page: PageName,
  url: Type.String({ maxLength: 2048, description: 'The address of the page viewed (count.js sends location.origin + location.pathname); its origin must be one of the page\'s "origins". Checked, not kept' }),
  referrer: Type.Optional(Type.String({ maxLength: 2048, description: 'The page that sent the visitor (document.referrer), kept as origin and path; none when it is a page of the page\'s own origins or of SELF_ORIGINS' }))
}, { description: 'A view, as count.js sends it: JSON, as text/plain or application/json' })

const TAKEN = 'How the view was taken is in the `thead-view` header (as on thead\'s own pages). A request with a listed `Origin` gets it back in `Access-Control-Allow-Origin`'

/** The origin a header or address names, as a browser serializes it: `null` for anything else. */
function originOf (text: string): string {
  return URL.canParse(text) ? new URL(text).origin : 'null'
}

const countRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config } = fastify
  const script = readFileSync(COUNT_SCRIPT, 'utf8')

  /**
   * The page named `name`, when it is counted here from every origin in `claimed` (the Origin
   * header, the page's address or Referer; each may be absent). A 404 or 403 otherwise, so no
   * other site can count views of a page, and nobody can count thead's own pages from outside.
   */
  function externalPage (name: string, claimed: Array<string | undefined>): ExternalPage {
    const page = pageNamed(config, name)
    if (isServed(page)) throw new HttpError(403, `Page ${name} is served by thead, which counts it when it is loaded; /count counts only pages listed with "origins" in PAGES_FILE`)
    for (const text of claimed) {
      if (text === undefined) continue
      const origin = originOf(text)
      if (!page.origins.includes(origin)) throw new HttpError(403, `Page ${name} is counted only from ${page.origins.join(', ')}; this view came from ${origin}`)
    }
    return page
  }

  /**
   * Lets the page's origins have the answer (externalPage checked `origin`): a browser drops a
   * no-cors answer (the beacon's, the image) with the service's usual same-origin resource
   * policy, and with CORS for a listed origin the page's own scripts may read it.
   */
  function allowOrigin (reply: FastifyReply, origin: string | undefined): void {
    reply.header('cross-origin-resource-policy', 'cross-origin')
    if (origin !== undefined) reply.header('access-control-allow-origin', originOf(origin)).header('vary', 'Origin').header('access-control-expose-headers', 'thead-view')
  }

  // count.js sends its JSON as text/plain, a CORS-safelisted type: the beacon goes as a simple
  // request, with no preflight (an OPTIONS round trip before every view, which a beacon sent as
  // the page goes away may never finish). This parser is this plugin's alone.
  fastify.addContentTypeParser('text/plain', { parseAs: 'string' }, function parseBeacon (_request, body, done) {
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(new HttpError(400, 'The body must be JSON such as {"page": "blog", "url": "https://blog.example.com/"}'), undefined)
    }
  })
  // Any other body is no view: said in words, rather than Fastify's bare "Unsupported Media Type".
  fastify.addContentTypeParser('*', function refuseBody (_request, _body, done) {
    done(Object.assign(new Error('Send the view as text/plain, as count.js does, or as application/json'), { statusCode: 415 }), undefined)
  })

  fastify.get('/count.js', {
    schema: {
      summary: 'The script a page served elsewhere includes to be counted: <script async src="…/count.js" data-page="blog"></script>',
      produces: ['text/javascript'],
      response: { 200: { type: 'string', description: 'A few hundred bytes of JavaScript, no eval and no dependencies: sends one view of `data-page` to POST /count with navigator.sendBeacon' } }
    }
  }, async function serveCountScript (_request, reply) {
    // A day: the name carries no version, so a changed script must reach every site within one.
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').header('cross-origin-resource-policy', 'cross-origin').send(script)
  })

  fastify.post('/count', {
    schema: {
      summary: 'Counts a view of a page served elsewhere, as count.js sends it',
      consumes: ['text/plain', 'application/json'],
      body: Beacon,
      response: { 204: Type.Null({ description: `The view is taken. ${TAKEN}` }), ...countErrors, 415: errorAnswer('The body is neither text/plain nor application/json') }
    }
  }, async function countBeacon (request, reply) {
    const { page: name, url, referrer } = request.body
    const page = externalPage(name, [request.headers.origin, url])
    allowOrigin(reply, request.headers.origin)
    await takeView(fastify, page, request, reply, referrer)
    return reply.code(204).send(null)
  })

  fastify.get('/count.gif', {
    schema: {
      summary: 'Counts a view of a page served elsewhere by an image, for pages without script and for e-mail: <img src="…/count.gif?page=blog" alt="" width="1" height="1">; a HEAD is no view',
      querystring: Type.Object({ page: PageName }),
      produces: ['image/gif'],
      response: { 200: { type: 'string', format: 'binary', description: `A transparent 1×1 GIF, never cached (Cache-Control: no-store), so each load is a view. ${TAKEN}` }, ...countErrors }
    }
  }, async function countPixel (request, reply) {
    // An image request carries no Origin unless asked for with crossorigin; its Referer, when
    // the page's policy sends one, is the page holding the image.
    const page = externalPage(request.query.page, [request.headers.origin, request.headers.referer])
    allowOrigin(reply, request.headers.origin)
    reply.type('image/gif').header('cache-control', 'no-store')
    // A HEAD (a link checker, a mail client looking before it loads) is no view.
    if (request.method === 'HEAD') return reply.header('thead-view', 'not-counted').send(PIXEL)
    // That Referer is the page itself, not what sent its visitor there: no referrer is known.
    await takeView(fastify, page, request, reply, undefined)
    return reply.send(PIXEL)
  })
}

export default countRoutes
