import { rmSync } from 'node:fs'

/**
 * Runs a demo to its end: what it started is stopped on SIGINT or SIGTERM and when it ends, its
 * logs in `workDir` are kept when it failed, and it exits with 0 only when its checks passed.
 */
export async function runDemo (main: () => Promise<boolean>, cleanUp: () => Promise<void>, workDir: string): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping everything the demo started`)
      void cleanUp().finally(() => process.exit(130))
    })
  }
  let passed = false
  try {
    passed = await main()
  } catch (error) {
    console.error(`demo failed: ${(error as Error).message}\nlogs are in ${workDir}`)
  } finally {
    await cleanUp()
  }
  if (passed) rmSync(workDir, { recursive: true, force: true })
  process.exitCode = passed ? 0 : 1
}
