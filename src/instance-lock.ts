import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs'
import { dirname } from 'node:path'

export class InstanceLockError extends Error {}

/** A file that one running service holds, so a second one from the same checkout can't share what it guards. */
export interface InstanceLock {
  release: () => void
}

/**
 * Takes `path` for this process: creates it holding our pid, or takes it over when the pid in it
 * is no longer running (a killed service leaves its lock behind). Throws InstanceLockError,
 * `what` and `remedy` saying what is shared and what to change, when a live process holds it.
 */
export function takeInstanceLock (path: string, what: string, remedy: string): InstanceLock {
  mkdirSync(dirname(path), { recursive: true })
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return { release: () => { if (holder(path) === process.pid) rmSync(path, { force: true }) } }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const pid = holder(path)
    if (pid !== null && pid !== process.pid && isAlive(pid)) {
      throw new InstanceLockError(`another thead (pid ${pid}) uses ${what}: stop it, or ${remedy}`)
    }
    // Left by a process that is gone (or by an earlier life of this pid, as in a container).
    rmSync(path, { force: true })
  }
}

function holder (path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
