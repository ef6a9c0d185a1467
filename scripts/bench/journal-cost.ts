import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { View } from '../../src/sealed-batch.js'
import { SpoolJournal } from '../../src/spool-journal.js'
import { BROWSER_USER_AGENT } from './traffic.js'

/** What keeping the spool on disk costs the service per view, in CPU time and bytes appended. */
export interface JournalCost {
  viewsPerBatch: number
  /** Views per append: a batch's views may arrive over several event-loop turns, one append each. */
  viewsPerAppend: number
  microsPerView: number
  bytesPerView: number
}

const VIEWS = 200_000

/**
 * Runs the journal as the recorder does (views appended, the batch marked sealed, then written)
 * for VIEWS views, on a file in the temporary folder, and times this process's CPU: the journal
 * runs in the service's event loop, so that is what it adds to a view.
 */
export function measureJournalCost (viewsPerBatch: number, viewsPerAppend: number): JournalCost {
  const dir = mkdtempSync(join(tmpdir(), 'thead-journal-bench-'))
  try {
    const path = join(dir, 'spool.journal')
    const { journal } = SpoolJournal.open(path)
    const views: View[] = Array.from({ length: viewsPerBatch }, (_, index) => ({
      page: 'index',
      day: '2026-12-05',
      kind: 'person',
      clientIp: '',
      visit: { visitor: `8c0f6f6b1d2e4a3b9f7e6d5c4b3a2${String(index).padStart(3, '0')}`, time: Date.now(), ip: '203.0.113.0', userAgent: BROWSER_USER_AGENT, referrer: 'https://news.example.com/article' }
    }))
    const batch = (seq: number): void => {
      for (let first = 0; first < viewsPerBatch; first += viewsPerAppend) journal.take(views.slice(first, first + viewsPerAppend))
      journal.sealed('bench-writer', seq, viewsPerBatch)
    }
    // The file starts over once nothing is held: its size before that is one batch's bytes.
    batch(1)
    const bytesPerBatch = statSync(path).size
    journal.written('bench-writer', 1)
    const batches = Math.floor(VIEWS / viewsPerBatch)
    const before = process.cpuUsage()
    for (let seq = 2; seq <= batches + 1; seq += 1) {
      batch(seq)
      journal.written('bench-writer', seq)
    }
    const cpu = process.cpuUsage(before)
    journal.close([], [])
    return { viewsPerBatch, viewsPerAppend, microsPerView: (cpu.user + cpu.system) / (batches * viewsPerBatch), bytesPerView: bytesPerBatch / viewsPerBatch }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function formatJournalCost (costs: JournalCost[]): string {
  return costs.map((cost) => `spool journal, batches of ${cost.viewsPerBatch} views appended ${cost.viewsPerAppend === 1 ? 'one view at a time' : `${cost.viewsPerAppend} at a time`}: ${cost.microsPerView.toFixed(2)} µs CPU and ${Math.round(cost.bytesPerView)} bytes per view`).join('\n')
}
