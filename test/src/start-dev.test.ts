import { spawn } from 'node:child_process'
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import t from 'tap'
import { distinctFreePorts } from '../../scripts/lib/ports.js'
import { waitFor } from '../../scripts/lib/wait.js'
import { projectRoot } from '../../src/config.js'
import { isListening } from '../../src/redis-process.js'

t.setTimeout(300_000)

t.test('npm run dev serves with the embedded Redis, restarts on a change under src/ or config/, and logs for a person', async (t) => {
  // A copy of the project to edit, so the working tree is left alone.
  const clone = mkdtempSync(join(tmpdir(), 'thead-dev-'))
  t.teardown(() => rmSync(clone, { recursive: true, force: true }))
  for (const entry of ['package.json', 'tsconfig.json', 'src', 'plugins', 'routes', 'config', 'public']) cpSync(join(projectRoot, entry), join(clone, entry), { recursive: true })
  symlinkSync(join(projectRoot, 'node_modules'), join(clone, 'node_modules'))

  const [port, redisPort] = await distinctFreePorts(2) as [number, number]
  // As a person's shell has it: without this test run's loader, coverage (tap's own switch for its children) and colour settings.
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !['NODE_OPTIONS', 'NODE_V8_COVERAGE', 'NO_COLOR'].includes(name))), _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  const dev = spawn('npm', ['run', 'dev'], {
    cwd: clone,
    // FORCE_COLOR: colours as in a terminal, though this output is a pipe.
    env: { ...env, PORT: String(port), REDIS_URL: `redis://127.0.0.1:${redisPort}`, EMBEDDED_REDIS: 'auto', FORCE_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  t.teardown(() => { try { process.kill(-(dev.pid as number), 'SIGKILL') } catch {} })
  let output = ''
  dev.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  dev.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const starts = (): number => stripVTControlCharacters(output).split(`Server listening at http://127.0.0.1:${port}`).length - 1
  const page = async (): Promise<number> => (await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': 'curl/8.5.0' } })).status

  await waitFor('the service starts', () => starts() === 1 || dev.exitCode !== null, 120_000)
  t.equal(starts(), 1, 'the service starts', { output })
  t.ok(await isListening('127.0.0.1', redisPort), 'with its embedded redis-server')
  t.equal(await page(), 200)
  t.match(stripVTControlCharacters(output), /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at /m, 'a line of time, level and message')
  t.notMatch(output, /^\{"level"/m, 'no JSON')
  t.match(output, /\u001b\[32mINFO\u001b\[39m/, 'the level in colour')

  appendFileSync(join(clone, 'src', 'pages.ts'), '// an edit\n')
  await waitFor('the service restarts after a source edit', () => starts() === 2, 60_000)
  const pages = join(clone, 'config', 'pages.json')
  writeFileSync(pages, readFileSync(pages))
  await waitFor('the service restarts after a config edit', () => starts() === 3, 60_000)
  await waitFor('the service answers again', async () => await isListening('127.0.0.1', port), 10_000)
  t.equal(await page(), 200, 'and serves the page')

  process.kill(-(dev.pid as number), 'SIGINT')
  await waitFor('Ctrl-C stops the service and its redis-server', async () => !(await isListening('127.0.0.1', port)) && !(await isListening('127.0.0.1', redisPort)), 30_000)
  t.pass('Ctrl-C stops it all')
})
