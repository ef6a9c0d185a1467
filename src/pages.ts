import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

/** A counted page: its views go to `page:<name>:…` keys. */
export interface PageConfig {
  name: string
  /** The URL path it is served at. */
  path: string
  /** Its HTML template, relative to the project root. */
  template: string
}

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
  return pages.map((page: Partial<PageConfig>, index) => {
    const where = `PAGES_FILE ${file}, page ${index + 1}`
    if (typeof page.name !== 'string' || !PAGE_NAME.test(page.name)) throw new Error(`${where}: "name" must match ${PAGE_NAME}`)
    if (typeof page.path !== 'string' || !PAGE_PATH.test(page.path)) throw new Error(`${where}: "path" must match ${PAGE_PATH}`)
    const reserved = reservedPathAt(page.path)
    if (reserved !== undefined) throw new Error(`${where}: "path" ${page.path} clashes with the service's own ${reserved}: choose a path outside ${RESERVED_PATHS.join(', ')}`)
    if (typeof page.template !== 'string') throw new Error(`${where}: "template" must be a file path`)
    if (names.has(page.name) || paths.has(page.path)) throw new Error(`${where}: name and path must be unique`)
    try {
      readFileSync(resolve(root, page.template))
    } catch (error) {
      throw new Error(`${where}: "template" ${page.template} can't be read (${(error as NodeJS.ErrnoException).code}): create it, or point "template" at the page's HTML file`)
    }
    names.add(page.name)
    paths.add(page.path)
    return { name: page.name, path: page.path, template: page.template }
  })
}

/** The service's own path that `path` is, or is below. */
function reservedPathAt (path: string): string | undefined {
  return RESERVED_PATHS.find((reserved) => path === reserved || path.startsWith(`${reserved}/`))
}
