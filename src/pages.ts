import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

/** A page thead serves itself, from its template. Its views go to `page:<name>:…` keys. */
export interface ServedPage {
  name: string
  /** The URL path it is served at. */
  path: string
  /** Its HTML template, relative to the project root. */
  template: string
  origins?: undefined
}

/** A page served elsewhere, counted through /count (routes/count.ts). */
export interface ExternalPage {
  name: string
  /** The origins it is served from, as browsers send them (`https://blog.example.com`). */
  origins: string[]
  path?: undefined
  template?: undefined
}

/** A counted page: one of thead's own, or one served elsewhere. */
export type PageConfig = ServedPage | ExternalPage

const PAGE_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/
const PAGE_PATH = /^\/[a-z0-9/-]{0,63}$/
/** The service's own paths: a page at one of them, or below one, would clash with its route. */
export const RESERVED_PATHS = ['/healthz', '/stats', '/visitors', '/dashboard', '/docs', '/count.js', '/count.gif', '/count', '/favicon.ico']

/**
 * Reads the list of counted pages. Page names come only from here, never from a request, so
 * no visitor can make the service create keys. Throws an Error with a one-line message.
 */
export function loadPages (file: string, root: string): PageConfig[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(resolve(root, file), 'utf8'))
  } catch (error) {
    throw new Error(`PAGES_FILE ${file} can't be read: ${(error as Error).message}`)
  }
  const pages = (parsed as { pages?: unknown }).pages
  if (!Array.isArray(pages) || pages.length === 0) throw new Error(`PAGES_FILE ${file} must hold a non-empty "pages" list`)
  const names = new Set<string>()
  const paths = new Set<string>()
  return pages.map((page: Record<string, unknown>, index) => {
    const where = `PAGES_FILE ${file}, page ${index + 1}`
    if (typeof page.name !== 'string' || !PAGE_NAME.test(page.name)) throw new Error(`${where}: "name" must match ${PAGE_NAME}`)
    if (names.has(page.name)) throw new Error(`${where}: name and path must be unique`)
    names.add(page.name)
    if (page.origins !== undefined) return externalPage(page.name, page, `${where} (${page.name})`)
    if (typeof page.path !== 'string' || !PAGE_PATH.test(page.path)) throw new Error(`${where}: "path" must match ${PAGE_PATH}`)
    const reserved = reservedPathAt(page.path)
    if (reserved !== undefined) throw new Error(`${where}: "path" ${page.path} clashes with the service's own ${reserved}: choose a path outside ${RESERVED_PATHS.join(', ')}`)
    if (typeof page.template !== 'string') throw new Error(`${where}: "template" must be a file path`)
    if (paths.has(page.path)) throw new Error(`${where}: name and path must be unique`)
    try {
      readFileSync(resolve(root, page.template))
    } catch (error) {
      throw new Error(`${where}: "template" ${page.template} can't be read (${(error as NodeJS.ErrnoException).code}): create it, or point "template" at the page's HTML file`)
    }
    paths.add(page.path)
    return { name: page.name, path: page.path, template: page.template }
  })
}

/** A page served elsewhere: `{ "name", "origins" }` and nothing of a served page's. */
function externalPage (name: string, page: Record<string, unknown>, where: string): ExternalPage {
  if (page.path !== undefined || page.template !== undefined) throw new Error(`${where}: a page with "origins" is served elsewhere and takes no "path" or "template"; drop them, or drop "origins"`)
  const { origins } = page
  if (!Array.isArray(origins) || origins.length === 0) throw new Error(`${where}: "origins" must be a non-empty list of the origins the page is served from, such as ["https://blog.example.com"]`)
  const parsed = origins.map((entry: unknown) => {
    const origin = typeof entry === 'string' ? originIn(entry) : undefined
    if (origin === undefined) throw new Error(`${where}: ${JSON.stringify(entry)} in "origins" is not an origin such as https://blog.example.com (a scheme, a host and a port, no path)`)
    return origin
  })
  return { name, origins: [...new Set(parsed)] }
}

/**
 * The origin `entry` names (`https://Example.com/` is `https://example.com`), or undefined when
 * it is not an http(s) origin: a path, a query or a user would never match one.
 */
export function originIn (entry: string): string | undefined {
  // URL drops tabs and line breaks inside a URL, so they are refused here: they are typos.
  const url = URL.canParse(entry) && !/[\s\p{Cc}]/u.test(entry) ? new URL(entry) : undefined
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.href !== `${url.origin}/`) return undefined
  return url.origin
}

/** Whether thead serves `page` itself (it has a template), rather than counting it for another site. */
export function isServed (page: PageConfig): page is ServedPage {
  return page.template !== undefined
}

/** The service's own path that `path` is, or is below. */
function reservedPathAt (path: string): string | undefined {
  return RESERVED_PATHS.find((reserved) => path === reserved || path.startsWith(`${reserved}/`))
}
