import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { ViewBatch } from './data-model.js'

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

/** Replaces the journal with `batches`, atomically; an empty list removes it. */
export function writeJournal (path: string, batches: ViewBatch[]): void {
  if (batches.length === 0) {
    rmSync(path, { force: true })
    return
  }
  mkdirSync(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, batches.map((batch) => JSON.stringify(batch)).join('\n') + '\n')
  renameSync(temporary, path)
}
