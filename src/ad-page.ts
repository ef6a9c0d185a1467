import { readFileSync } from 'node:fs'
import type { DayCounts } from './view-recorder.js'

/** Shown instead of a number while the counts can't be read. */
export const COUNT_UNAVAILABLE = 'many'

const PLACEHOLDER = /\{\{(views|uniques)\}\}/g

/**
 * The ad page's template, split once at its placeholders so each view costs a few string
 * concatenations. The operator edits the template; `{{views}}` and `{{uniques}}` are today's.
 */
export class AdPage {
  readonly #parts: Array<string | keyof DayCounts>

  constructor (template: string) {
    this.#parts = []
    let last = 0
    for (const match of template.matchAll(PLACEHOLDER)) {
      this.#parts.push(template.slice(last, match.index), match[1] as keyof DayCounts)
      last = match.index + match[0].length
    }
    this.#parts.push(template.slice(last))
  }

  static fromFile (path: string): AdPage {
    return new AdPage(readFileSync(path, 'utf8'))
  }

  render (counts: DayCounts | null): string {
    let html = ''
    for (let index = 0; index < this.#parts.length; index += 1) {
      const part = this.#parts[index] as string
      // Odd places hold placeholder names, even places literal text.
      html += index % 2 === 0 ? part : counts === null ? COUNT_UNAVAILABLE : String(counts[part as keyof DayCounts])
    }
    return html
  }
}
