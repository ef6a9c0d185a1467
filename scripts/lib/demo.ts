import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, openSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../../src/config.js'
import { tiedToThisProcess } from '../../src/redis-process.js'
import { waitFor } from './wait.js'

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

/** One service a demo runs: its port, its folder (log and journal), and its process while it runs. */
export interface DemoApp { name: string, port: number, dir: string, child?: ChildProcess }

/**
 * Starts `app` from the sources, tied to this process, with `env` on top of the demo's
 * environment and its own port, journal and log; resolves once its /healthz answers 200.
 */
export async function startDemoApp (app: DemoApp, env: Record<string, string>): Promise<void> {
  mkdirSync(app.dir, { recursive: true })
  const log = openSync(join(app.dir, 'app.log'), 'a')
  const [command, args] = tiedToThisProcess(process.execPath, ['--import', 'tsx', join(projectRoot, 'src', 'server.ts')])
  const child = spawn(command, args, {
    cwd: projectRoot,
    stdio: ['ignore', log, log],
    env: { ...process.env, PORT: String(app.port), HOST: '127.0.0.1', EMBEDDED_REDIS: 'off', SPOOL_JOURNAL: join(app.dir, 'spool.journal'), ...env }
  })
  app.child = child
  await waitFor(`${app.name} to answer /healthz with 200`, async () => {
    if (child.exitCode !== null) throw new Error(`${app.name} exited with code ${child.exitCode}; see ${join(app.dir, 'app.log')}`)
    return await fetch(`http://127.0.0.1:${app.port}/healthz`).then((response) => response.ok, () => false)
  })
}
