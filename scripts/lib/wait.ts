import { setTimeout as sleep } from 'node:timers/promises'

/** How long waitFor waits between two checks. */
const POLL_MS = 50

/**
 * Polls `check` until it answers something other than undefined or false, and resolves with
 * that answer; throws after `timeoutMs`. The check may be sync or async. A check that throws
 * is tried again (nodes drop connections while they change roles); if it still throws at the
 * deadline, the error says why.
 */
export async function waitFor<T> (what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let answer: T | undefined | false | CheckFailed
    try {
      answer = await check()
    } catch (error) {
      answer = new CheckFailed(error)
    }
    if (answer !== undefined && answer !== false && !(answer instanceof CheckFailed)) return answer
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms${answer instanceof CheckFailed ? `: ${answer.message}` : ''}`)
    await sleep(POLL_MS)
  }
}

class CheckFailed extends Error {
  constructor (cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
  }
}
