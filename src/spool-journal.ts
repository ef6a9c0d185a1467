import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { InstanceLockError, takeInstanceLock, type InstanceLock } from './instance-lock.js'
import { batchOf, type View } from './sealed-batch.js'
import type { ViewBatch } from './store/record-views.js'

/** What an earlier process left: batches it sent or was about to send, and views it had not batched yet. */
export interface SpoolLeftOver {
  batches: ViewBatch[]
  views: View[]
}

/** Past this size the journal is rewritten to what is still held, when that is a quarter of it or less. */
const REWRITE_MIN_BYTES = 8 * 1024 * 1024

/**
 * The spool on disk, written ahead: a view is appended before its page is served without its
 * numbers, and a batch is marked sealed before it is sent and written once Redis confirms it. A
 * process killed at any point leaves every view it held here, and the next start writes them.
 * A batch keeps its writer id and number, so one sent before the kill still counts once.
 *
 * One JSON array per line: `["v", view, ...]` views taken, in order; `["s", writerId, seq, n]`
 * the oldest n views not yet in a batch form that batch; `["w", writerId, seq]` it is written.
 * An append per event, with no fsync: it survives the process, not the machine losing power.
 * The file is its owner's alone (0600), and keeps no view's full client address: that is for
 * the rate limit only, so views written from the journal are not limited.
 */
export class SpoolJournal {
  readonly #path: string
  readonly #lock: InstanceLock
  #fd: number
  #bytes = 0
  #bytesAfterRewrite = 0
  /** Views taken and not yet in a batch, and each batch not yet written with its number of views. */
  #unbatched = 0
  readonly #batches = new Map<string, number>()
  #closed = false

  /**
   * Takes the journal at `path` for this process, and hands back what an earlier one left in it,
   * and in the journals `orphans` that no running process holds (of workers a start no longer runs).
   */
  static open (path: string, orphans: string[] = []): { journal: SpoolJournal, leftOver: SpoolLeftOver } {
    const lock = takeInstanceLock(`${path}.lock`, `SPOOL_JOURNAL ${path}`, 'set SPOOL_JOURNAL to another file for this one')
    const adopted: Array<{ path: string, lock: InstanceLock }> = []
    try {
      const leftOver = readJournal(path)
      for (const orphan of orphans) {
        try {
          adopted.push({ path: orphan, lock: takeInstanceLock(`${orphan}.lock`, orphan, '') })
        } catch (error) {
          if (error instanceof InstanceLockError) continue
          throw error
        }
        const { batches, views } = readJournal(orphan)
        leftOver.batches.push(...batches)
        leftOver.views.push(...views)
      }
      const journal = new SpoolJournal(path, lock)
      journal.rewrite(leftOver.batches, leftOver.views)
      // Their views are in this journal now.
      for (const orphan of adopted) {
        rmSync(orphan.path, { force: true })
        orphan.lock.release()
      }
      return { journal, leftOver }
    } catch (error) {
      for (const held of [lock, ...adopted.map((orphan) => orphan.lock)]) held.release()
      throw error
    }
  }

  private constructor (path: string, lock: InstanceLock) {
    this.#path = path
    this.#lock = lock
    this.#fd = -1
  }

  /** Views taken, in the order they will be batched. */
  take (views: View[]): void {
    this.#append([TAKEN, ...views.map(encodeView)])
    this.#unbatched += views.length
  }

  /** The oldest `views` views taken and not yet batched are the writer's batch `seq`. */
  sealed (writerId: string, seq: number, views: number): void {
    this.#append([SEALED, writerId, seq, views])
    this.#unbatched -= views
    this.#batches.set(`${writerId} ${seq}`, views)
  }

  /** Redis holds the batch: a later start must not send it again. */
  written (writerId: string, seq: number): void {
    if (this.#closed) return
    this.#batches.delete(`${writerId} ${seq}`)
    if (this.#unbatched === 0 && this.#batches.size === 0) {
      // Nothing held: start the file over rather than let it grow.
      ftruncateSync(this.#fd, 0)
      this.#bytes = 0
      return
    }
    this.#append([WRITTEN, writerId, seq])
  }

  /** True when the file has grown well past what it holds: time to `rewrite` it. */
  get wantsRewrite (): boolean {
    return this.#bytes > REWRITE_MIN_BYTES && this.#bytes > 4 * this.#bytesAfterRewrite
  }

  /** Replaces the file, atomically, with just these batches and views, the ones still held. */
  rewrite (batches: ViewBatch[], views: View[]): void {
    const lines: unknown[][] = []
    for (const batch of batches) {
      const batchViews = batch.groups.flatMap((group) => group.views.map((view) => ({ ...view, page: group.page, day: group.day })))
      lines.push([TAKEN, ...batchViews.map(encodeView)], [SEALED, batch.writerId, batch.seq, batchViews.length])
    }
    if (views.length > 0) lines.push([TAKEN, ...views.map(encodeView)])
    const text = lines.map((line) => JSON.stringify(line) + '\n').join('')
    mkdirSync(dirname(this.#path), { recursive: true })
    const temporary = `${this.#path}.${process.pid}.tmp`
    const fd = openSync(temporary, 'w', 0o600)
    writeSync(fd, text)
    closeSync(fd)
    renameSync(temporary, this.#path)
    if (this.#fd !== -1) closeSync(this.#fd)
    this.#fd = openSync(this.#path, 'a', 0o600)
    this.#bytes = this.#bytesAfterRewrite = Buffer.byteLength(text)
    this.#unbatched = views.length
    this.#batches.clear()
    for (const batch of batches) this.#batches.set(`${batch.writerId} ${batch.seq}`, batch.groups.reduce((sum, group) => sum + group.views.length, 0))
  }

  /** Leaves these batches and views for the next start (or no file, when there are none), and lets the journal go. */
  close (batches: ViewBatch[], views: View[]): void {
    if (batches.length + views.length > 0) this.rewrite(batches, views)
    closeSync(this.#fd)
    if (batches.length + views.length === 0) rmSync(this.#path, { force: true })
    this.#closed = true
    this.#lock.release()
  }

  #append (line: unknown[]): void {
    const text = JSON.stringify(line) + '\n'
    writeSync(this.#fd, text)
    this.#bytes += Buffer.byteLength(text)
  }
}

const TAKEN = 'v'
const SEALED = 's'
const WRITTEN = 'w'

const KINDS = new Set<unknown>(['person', 'bot', 'do-not-track'] satisfies Array<View['kind']>)

type EncodedView = [page: string, day: string, kind: View['kind'], visitor: string, time: number, ip: string, userAgent: string, referrer: string]

function encodeView ({ page, day, kind, visit }: View): EncodedView {
  return [page, day, kind, visit.visitor, visit.time, visit.ip, visit.userAgent, visit.referrer]
}

function decodeView ([page, day, kind, visitor, time, ip, userAgent, referrer]: EncodedView): View {
  return { page, day, kind, clientIp: '', visit: { visitor, time, ip, userAgent, referrer } }
}

/** Replays the journal's lines: the batches not marked written, and the views never batched. */
export function readJournal (path: string): SpoolLeftOver {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { batches: [], views: [] }
    throw error
  }
  const lines = text.split('\n')
  // A last line without its newline was cut off by the kill, before its page was served.
  lines.pop()
  const unbatched: View[] = []
  const batches = new Map<string, ViewBatch>()
  lines.forEach((line, index) => {
    const entry = parseLine(line)
    if (entry?.[0] === TAKEN && entry.slice(1).every(isEncodedView)) {
      unbatched.push(...(entry.slice(1) as EncodedView[]).map(decodeView))
    } else if (entry?.[0] === SEALED && typeof entry[1] === 'string' && Number.isInteger(entry[2]) && Number.isInteger(entry[3]) && (entry[3] as number) <= unbatched.length) {
      const [, writerId, seq, views] = entry as [string, string, number, number]
      batches.set(`${writerId} ${seq}`, batchOf(unbatched.splice(0, views), writerId, seq))
    } else if (entry?.[0] === WRITTEN) {
      batches.delete(`${entry[1] as string} ${entry[2] as number}`)
    } else {
      throw new Error(`SPOOL_JOURNAL ${path}: line ${index + 1} is not a journal entry; move the file aside to start without the views in it`)
    }
  })
  return { batches: [...batches.values()], views: unbatched }
}

function isEncodedView (value: unknown): value is EncodedView {
  return Array.isArray(value) && value.length === 8 && typeof value[4] === 'number' && KINDS.has(value[2]) &&
    [0, 1, 3, 5, 6, 7].every((index) => typeof value[index] === 'string')
}

function parseLine (line: string): unknown[] | null {
  try {
    const entry: unknown = JSON.parse(line)
    return Array.isArray(entry) ? entry : null
  } catch {
    return null
  }
}
