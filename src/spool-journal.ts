import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { ViewBatch } from './store/record-views.js'

/**
 * The spool's journal: batches that a stopping process could not write, one JSON line each,
 * read back and written first by the next start. A batch keeps its writer id and number, so
 * writing it again after a partial success still counts it once.
 */
export function readJournal (path: string): ViewBatch[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as ViewBatch)
}

/**
 * Replaces the journal with `batches`, atomically; an empty list removes it. The file is its
 * owner's alone, and keeps no view's full client address: that is for the rate limit only, and
 * never stored past a minute, so journaled views are counted without the limit.
 */
export function writeJournal (path: string, batches: ViewBatch[]): void {
  if (batches.length === 0) {
    rmSync(path, { force: true })
    return
  }
  mkdirSync(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, batches.map((batch) => JSON.stringify(withoutClientAddresses(batch))).join('\n') + '\n', { mode: 0o600 })
  renameSync(temporary, path)
}

function withoutClientAddresses (batch: ViewBatch): ViewBatch {
  return { ...batch, groups: batch.groups.map((group) => ({ ...group, views: group.views.map((view) => ({ ...view, clientIp: '' })) })) }
}
