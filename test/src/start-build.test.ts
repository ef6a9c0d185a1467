import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import t, { type Test } from 'tap'
import { waitFor } from '../../scripts/lib/wait.js'
import { projectRoot } from '../../src/config.js'
import { isListening } from '../../src/redis-process.js'
import { freePort, startTestRedis } from '../helpers/redis.js'

// Builds run in a copy of the project, as a fresh clone has it: never in the working tree's dist/.
t.setTimeout(420_000)

const NOT_BUILT = 'thead: dist/ is missing or older than the sources, and TypeScript is not installed to build it: run npm install (with dev dependencies), then npm start\n'

const clone = mkdtempSync(join(tmpdir(), 'thead-clone-'))
t.teardown(() => rmSync(clone, { recursive: true, force: true }))
for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'plugins', 'routes', 'scripts', 'test/helpers', 'config', 'public']) {
  cpSync(join(projectRoot, entry), join(clone, entry), { recursive: true })
}
// A Lua script of the test's own: the build must put every one beside its compiled code.
mkdirSync(join(clone, 'src', 'probe'))
writeFileSync(join(clone, 'src', 'probe', 'probe.lua'), 'return 1\n')
symlinkSync(join(projectRoot, 'node_modules'), join(clone, 'node_modules'))

const redis = await startTestRedis(t)

/** This environment as an operator's shell has it: without this test run's loader and coverage (tap's own switch for its children). */
const operatorEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_OPTIONS' && name !== 'NODE_V8_COVERAGE')), _TAPJS_PROCESSINFO_COVERAGE_: '0' }

/** `npm start` in the clone; resolves once it answers a page, with the time that took, and stops it. */
async function startAndStop (t: Test): Promise<number> {
  const port = await freePort()
  const began = Date.now()
  const npm = spawn('npm', ['start'], {
    cwd: clone,
    env: { ...operatorEnv, PORT: String(port), REDIS_URL: redis.url, EMBEDDED_REDIS: 'off', LOG_LEVEL: 'warn', SPOOL_JOURNAL: join(clone, 'var', 'spool.journal') },
    stdio: 'ignore',
    detached: true
  })
  const exited = new Promise((resolve) => npm.once('exit', (code) => resolve(code)))
  t.teardown(() => { try { process.kill(-(npm.pid as number), 'SIGKILL') } catch {} })
  await waitFor('npm start answers', async () => npm.exitCode !== null || await isListening('127.0.0.1', port), 300_000)
  const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': 'curl/8.5.0' } })
  const answeredAfter = Date.now() - began
  t.equal(page.status, 200, 'the page is served')
  npm.kill('SIGTERM')
  t.equal(await exited, 0, 'and stops cleanly')
  return answeredAfter
}

/** Every file under `dir`, relative to it. */
function filesUnder (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)))
}

const builtAt = (): number[] => ['dist/.built', 'dist/src/server.js'].map((file) => statSync(join(clone, file)).mtimeMs)

t.test('npm start on a fresh clone builds first, with every Lua script beside its compiled code', async (t) => {
  t.notOk(existsSync(join(clone, 'dist')), 'nothing built yet')
  await startAndStop(t)
  const lua = filesUnder(join(clone, 'src')).filter((file) => file.endsWith('.lua'))
  t.ok(lua.includes(join('probe', 'probe.lua')))
  for (const file of lua) t.equal(readFileSync(join(clone, 'dist', 'src', file), 'utf8'), readFileSync(join(clone, 'src', file), 'utf8'), `dist/src/${file}`)
})

t.test('a second npm start on the built tree does not build again', async (t) => {
  const before = builtAt()
  const answeredAfter = await startAndStop(t)
  t.same(builtAt(), before, 'dist/ is as it was')
  t.comment(`answered after ${answeredAfter} ms`)
})

t.test('a production install, without dev dependencies, runs the built tree', async (t) => {
  rmSync(join(clone, 'node_modules'))
  const install = spawnSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone, env: operatorEnv, encoding: 'utf8' })
  t.equal(install.status, 0, 'npm ci --omit=dev', { stderr: install.stderr })
  t.notOk(existsSync(join(clone, 'node_modules', 'typescript')), 'no TypeScript')
  t.notOk(existsSync(join(clone, 'node_modules', 'tsx')), 'no tsx')
  await startAndStop(t)
})

t.test('without TypeScript, a tree never built or changed since its build is refused in one line saying what to run', async (t) => {
  const now = new Date()
  utimesSync(join(clone, 'src', 'pages.ts'), now, now)
  for (const tree of ['changed since its build', 'never built']) {
    if (tree === 'never built') rmSync(join(clone, 'dist'), { recursive: true })
    const build = spawnSync(process.execPath, ['scripts/start/build.mjs', '--if-stale'], { cwd: clone, env: operatorEnv, encoding: 'utf8' })
    t.equal(build.status, 1, tree)
    t.equal(build.stderr, NOT_BUILT, `${tree}: one line`)
    const npm = spawnSync('npm', ['start'], { cwd: clone, env: { ...operatorEnv, PORT: String(await freePort()) }, encoding: 'utf8', timeout: 60_000 })
    t.not(npm.status, 0, `${tree}: npm start fails`)
    t.ok(npm.stderr.startsWith(NOT_BUILT), `${tree}: with that line first`)
  }
})

t.test('the Docker image builds the service alone, and carries no test helpers or benchmark scripts', async (t) => {
  const dockerfile = readFileSync(join(projectRoot, 'docker', 'Dockerfile'), 'utf8')
  const [build, image] = dockerfile.split(/^FROM /m).slice(1).map((stage) => [...stage.matchAll(/^COPY (.+)$/gm)].map((match) => match[1] as string))
  t.same(build, ['package.json package-lock.json ./', 'tsconfig.json tsconfig.build.json ./', 'src src', 'plugins plugins', 'routes routes', 'scripts/start scripts/start'], 'the build stage compiles the service and nothing else')
  t.match(dockerfile, /^RUN npm run build && npm prune --omit=dev$/m, 'with the Lua scripts (npm run build), then without dev dependencies')
  t.same(image, ['--from=build /app/package.json ./', '--from=build /app/node_modules node_modules', '--from=build /app/dist dist', 'config config', 'public public'], 'the image holds the build and what it reads')
})
