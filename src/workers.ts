import cluster, { type Worker } from 'node:cluster'
import { readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'

/** The variable that tells a worker which one it is, from 1 to WORKERS: its journal goes with it. */
export const WORKER_SLOT_VARIABLE = 'THEAD_WORKER_SLOT'

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * The journal this process keeps, and the journals of no running slot that it takes over: a
 * lone process keeps SPOOL_JOURNAL and takes over every worker's; worker n keeps
 * `<SPOOL_JOURNAL>.<n>`, and worker 1 takes over SPOOL_JOURNAL and those of slots past WORKERS.
 * So a start with fewer workers than the last one still writes every view that one held.
 */
export function journalPaths (base: string, workers: number, slot: number): { own: string, orphans: string[] } {
  const own = slot === 0 ? base : `${base}.${slot}`
  if (slot > 1) return { own, orphans: [] }
  const name = basename(base)
  let files: string[]
  try {
    files = readdirSync(dirname(base))
  } catch {
    return { own, orphans: [] }
  }
  const orphans = files.filter((file) => {
    if (file === name) return slot === 1
    const workerSlot = file.startsWith(`${name}.`) ? file.slice(name.length + 1) : ''
    return /^[1-9]\d*$/.test(workerSlot) && (slot === 0 || Number(workerSlot) > workers)
  })
  return { own, orphans: orphans.map((file) => join(dirname(base), file)) }
}

/**
 * The primary of WORKERS service processes: starts them (they share the port), starts again one
 * that dies, with the same slot and so the same journal, and stops them all on a stop signal,
 * each writing out its spool as a lone process does. A worker that dies before it listens (a
 * bad setting, a port in use: it has said why in one line) stops them all: restarting it would not help.
 */
export function runWorkers (workers: number, log: FastifyBaseLogger, stopRest: () => Promise<void>): void {
  const running = new Map<number, Worker>()
  let stopping = false
  let signals = 0

  const stopAll = async (exitCode: number): Promise<void> => {
    stopping = true
    const exits = [...running.values()].map(async (worker) => await new Promise((resolve) => {
      if (worker.isDead()) resolve(null)
      else worker.once('exit', resolve)
    }))
    for (const worker of running.values()) if (!worker.isDead()) worker.process.kill('SIGTERM')
    await Promise.all(exits)
    await stopRest()
    log.info('stopped')
    process.exit(exitCode)
  }

  const start = (slot: number): void => {
    const worker = cluster.fork({ [WORKER_SLOT_VARIABLE]: String(slot) })
    let listening = false
    running.set(slot, worker)
    worker.once('listening', () => { listening = true })
    worker.once('exit', (code, signal) => {
      if (stopping) return
      if (!listening) {
        log.error({ worker: slot, code, signal }, 'a worker stopped before it listened: stopping the others')
        void stopAll(1)
        return
      }
      log.error({ worker: slot, code, signal }, 'a worker stopped: starting another in its place, with its journal')
      start(slot)
    })
  }

  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      signals += 1
      // A terminal's Ctrl-C reaches the workers too, and npm forwards it to this process again.
      if (signals === 1) {
        log.info({ signal, workers }, 'stopping')
        void stopAll(0)
      } else if (signals === 2) {
        log.warn({ signal }, 'already stopping: the workers are writing out their spools')
      } else {
        log.error({ signal }, 'exiting at once: views not yet written stay in the journals for the next start')
        for (const worker of running.values()) worker.process.kill('SIGKILL')
        process.exit(1)
      }
    })
  }
  for (let slot = 1; slot <= workers; slot += 1) start(slot)
}
