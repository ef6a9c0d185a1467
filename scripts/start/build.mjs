// `npm run build`: compiles the TypeScript into dist/, copies the Lua scripts beside their compiled
// code and stamps the build. `npm start` runs it with --if-stale: a tree built since its sources
// last changed starts at once, and needs no TypeScript (a production install has none).
// Plain JavaScript, so it runs where no dev dependency is installed.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** What the service's build reads: a change to any of them makes dist/ stale. */
const SOURCES = ['src', 'plugins', 'routes', 'tsconfig.json', 'tsconfig.build.json']
/** Written last by a build, dated when it began: dist/ is current when no source is newer. */
const STAMP = join(root, 'dist', '.built')

/** Every file under `path` (or `path` itself), skipping what does not exist. */
function files (path) {
  if (!existsSync(path)) return []
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
}

function isBuilt () {
  if (!existsSync(STAMP)) return false
  const built = statSync(STAMP).mtimeMs
  return SOURCES.flatMap((source) => files(join(root, source))).every((file) => statSync(file).mtimeMs <= built)
}

function tscPath () {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
  } catch {
    return null
  }
}

/** Compiles and copies; returns the exit code. */
function build (tsc) {
  const began = new Date()
  const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  if (status !== 0) return status ?? 1
  // The store reads its Lua scripts from beside its own code, so they go where it is compiled to.
  for (const file of files(join(root, 'src')).filter((path) => path.endsWith('.lua'))) {
    const target = join(root, 'dist', relative(root, file))
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(file, target)
  }
  // Dated at the start: a source saved while tsc ran is newer, so the next start builds again.
  writeFileSync(STAMP, '')
  utimesSync(STAMP, began, began)
  return 0
}

if (process.argv.includes('--if-stale') && isBuilt()) process.exit(0)
const tsc = tscPath()
if (tsc === null) {
  console.error('thead: dist/ is missing or older than the sources, and TypeScript is not installed to build it: run npm install (with dev dependencies), then npm start')
  process.exit(1)
}
process.exit(build(tsc))
