import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname } from 'node:path'

export class InstanceLockError extends Error {}

/** A file that one running service holds, so a second one from the same checkout can't share what it guards. */
export interface InstanceLock {
  release: () => void
}

/**
 * Takes `path` for this process: creates it holding our pid and host name, or takes it over when
 * that pid no longer runs on this host (a killed service leaves its lock behind). Throws
 * InstanceLockError, `what` and `remedy` saying what is shared and what to change, when a live
 * process holds it, or a process of another host (a container on a shared volume), whose life
 * can't be checked from here.
 */
export function takeInstanceLock (path: string, what: string, remedy: string): InstanceLock {
  mkdirSync(dirname(path), { recursive: true })
  const me = `${process.pid} ${hostname()}`
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, `${me}\n`)
      closeSync(fd)
      return { release: () => { if (holder(path) === me) rmSync(path, { force: true }) } }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const [pidText, host = ''] = holder(path).split(' ')
    const pid = Number(pidText)
    if (host !== '' && host !== hostname()) {
      throw new InstanceLockError(`a thead on host ${host} (pid ${pid}) uses ${what}: stop it, or ${remedy}; if that host is gone for good, delete ${path}`)
    }
    if (pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new InstanceLockError(`another thead (pid ${pid}) uses ${what}: stop it, or ${remedy}`)
    }
    // Left by a process that is gone (or by an earlier life of this pid, as in a container).
    rmSync(path, { force: true })
  }
}

/** The lock's "pid host" line; empty when it is gone. */
function holder (path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return ''
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
