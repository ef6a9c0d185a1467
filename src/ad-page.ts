import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import type { DayCounts } from './sealed-batch.js'

/** Shown instead of a number while the counts can't be read. */
export const COUNT_UNAVAILABLE = 'many'

type Count = 'views' | 'uniques'

/** `{{views}}`, or `{{views:time|times}}`: the word for that count, singular or plural. */
const PLACEHOLDER = /\{\{(views|uniques)(?::([^{}|]*)\|([^{}|]*))?\}\}/g

/** Where a placeholder stood: the count it shows, or the words it chooses between by that count. */
interface Placeholder {
  count: Count
  words?: { singular: string, plural: string }
}

/**
 * The ad page's template, split once at its placeholders so each view costs a few string
 * concatenations. The operator edits the template; `{{views}}` and `{{uniques}}` are today's,
 * and `{{views:time|times}}` is "time" when there was exactly one view, else "times".
 */
export class AdPage {
  readonly #parts: Array<string | Placeholder>

  constructor (template: string) {
    this.#parts = []
    let last = 0
    for (const match of template.matchAll(PLACEHOLDER)) {
      const [text, count, singular, plural] = match
      const words = singular === undefined ? undefined : { singular, plural: plural as string }
      this.#parts.push(template.slice(last, match.index), { count: count as Count, words })
      last = match.index + text.length
    }
    this.#parts.push(template.slice(last))
  }

  static fromFile (path: string): AdPage {
    return new AdPage(readFileSync(path, 'utf8'))
  }

  render (counts: DayCounts | null): string {
    let html = ''
    for (let index = 0; index < this.#parts.length; index += 1) {
      // Odd places hold placeholders, even places literal text.
      if (index % 2 === 0) {
        html += this.#parts[index] as string
        continue
      }
      const { count, words } = this.#parts[index] as Placeholder
      const value = counts === null ? null : counts[count]
      if (words !== undefined) html += value === 1 ? words.singular : words.plural
      else html += value === null ? COUNT_UNAVAILABLE : String(value)
    }
    return html
  }
}

/**
 * The ad page of a template file, read and split again whenever its folder changes, so an edit
 * shows without a restart while a view still costs no file read. Close it to stop watching.
 */
export class WatchedAdPage {
  #page: AdPage
  readonly #watcher: FSWatcher

  /** `onError` hears why the template can't be read or watched; the page keeps its last text. */
  constructor (path: string, onError: (error: Error) => void) {
    this.#page = AdPage.fromFile(path)
    // The folder, not the file: editors and deploys replace a file rather than write into it,
    // and a watch on the file would stay with the one replaced. Templates are small, and
    // reading one again on a change beside it costs little.
    this.#watcher = watch(dirname(path), () => {
      try {
        this.#page = AdPage.fromFile(path)
      } catch (error) {
        onError(error as Error)
      }
    }).on('error', onError)
  }

  render (counts: DayCounts | null): string {
    return this.#page.render(counts)
  }

  close (): void {
    this.#watcher.close()
  }
}
