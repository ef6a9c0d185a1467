import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { View } from '../../src/sealed-batch.js'
import { readJournal, SpoolJournal } from '../../src/spool-journal.js'

function viewBy (visitor: string, page = 'index'): View {
  return { page, day: '2026-03-01', kind: 'person', clientIp: '203.0.113.9', visit: { visitor, time: 1772323200000, ip: '203.0.113.0', userAgent: 'Firefox "quoted"\nnewline', referrer: 'https://r.example/' } }
}

/** A view as the journal gives it back: its full client address is not kept. */
function journaled (visitor: string, page = 'index'): View {
  return { ...viewBy(visitor, page), clientIp: '' }
}

function visitorsIn (path: string): { batches: Array<[seq: number, visitors: string[]]>, views: string[] } {
  const { batches, views } = readJournal(path)
  return {
    batches: batches.map((batch) => [batch.seq, batch.groups.flatMap((group) => group.views.map((view) => view.visit.visitor))]),
    views: views.map((view) => view.visit.visitor)
  }
}

t.test('no journal means nothing left over; a start with nothing to keep leaves no file behind', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'spool.journal')
  const { journal, leftOver } = SpoolJournal.open(path)
  t.same(leftOver, { batches: [], views: [] })
  t.equal(statSync(path).mode & 0o777, 0o600, 'only its owner may read it')
  journal.close([], [])
  t.same(readdirSync(dir), [], 'neither the journal nor its lock')
})

t.test('a killed process leaves every view it took and every batch not written, each batch with its writer id and number', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const { journal } = SpoolJournal.open(path)
  journal.take([viewBy('alice'), viewBy('bob', 'promo')])
  journal.sealed('writer-1', 1, 2)
  journal.take([viewBy('carol')])
  journal.sealed('writer-1', 2, 1)
  journal.take([viewBy('dave'), viewBy('erin')])
  journal.written('writer-1', 1)
  // No close: the process is gone.
  t.same(visitorsIn(path), { batches: [[2, ['carol']]], views: ['dave', 'erin'] })
  const { batches, views } = readJournal(path)
  t.same(batches[0], { writerId: 'writer-1', seq: 2, groups: [{ page: 'index', day: '2026-03-01', views: [{ kind: 'person', clientIp: '', visit: journaled('carol').visit }] }] })
  t.same(views, [journaled('dave'), journaled('erin')], 'views come back whole, without the full client address')
  t.notMatch(readFileSync(path, 'utf8'), '203.0.113.9', 'the address, kept for the rate limit only, stays in memory')
})

t.test('the next start takes over a killed process\'s journal and lock, and writes what it left as its own file', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const first = SpoolJournal.open(path).journal
  first.take([viewBy('alice'), viewBy('bob')])
  first.sealed('writer-1', 7, 1)
  const dead = spawnSync(process.execPath, ['-e', '']).pid as number
  writeFileSync(`${path}.lock`, `${dead}\n`)
  const { journal, leftOver } = SpoolJournal.open(path)
  t.same(leftOver.batches.map((batch) => batch.seq), [7])
  t.same(leftOver.views.map((view) => view.visit.visitor), ['bob'])
  t.equal(readFileSync(`${path}.lock`, 'utf8'), `${process.pid} ${hostname()}\n`, 'the lock is this process\'s now')
  journal.written('writer-1', 7)
  t.same(visitorsIn(path), { batches: [], views: ['bob'] }, 'the rewritten file goes on as a journal')
  journal.close([], leftOver.views)
  t.same(visitorsIn(path), { batches: [], views: ['bob'] }, 'a close keeps what is still held')
  t.notOk(existsSync(`${path}.lock`))
})

t.test('a journal in use by a running service is refused in one line naming SPOOL_JOURNAL', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  writeFileSync(`${path}.lock`, `${process.ppid}\n`)
  t.throws(() => SpoolJournal.open(path), { message: `another thead (pid ${process.ppid}) uses SPOOL_JOURNAL ${path}: stop it, or set SPOOL_JOURNAL to another file for this one` })
  t.equal(readFileSync(`${path}.lock`, 'utf8'), `${process.ppid}\n`, 'its lock is left alone')
})

t.test('a journal locked by a process of another host (a container on a shared volume) is refused: its life can\'t be checked from here', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  writeFileSync(`${path}.lock`, '1 another-container\n')
  t.throws(() => SpoolJournal.open(path), { message: `a thead on host another-container (pid 1) uses SPOOL_JOURNAL ${path}: stop it, or set SPOOL_JOURNAL to another file for this one; if that host is gone for good, delete ${path}.lock` })
})

t.test('a lock naming this very pid is from an earlier life of it (a container restarted, pid 1 again), and taken over', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  writeFileSync(`${path}.lock`, `${process.pid} ${hostname()}\n`)
  const { journal } = SpoolJournal.open(path)
  journal.close([], [])
  t.notOk(existsSync(`${path}.lock`))
})

t.test('with nothing held the file starts over, so it does not grow under steady traffic', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const { journal } = SpoolJournal.open(path)
  for (let seq = 1; seq <= 100; seq += 1) {
    journal.take([viewBy(`visitor-${seq}`)])
    journal.sealed('writer-1', seq, 1)
    journal.written('writer-1', seq)
  }
  t.equal(statSync(path).size, 0)
  journal.take([viewBy('last')])
  t.same(visitorsIn(path), { batches: [], views: ['last'] })
})

t.test('a journal grown well past what it holds asks to be rewritten, and the rewrite keeps just that', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const { journal } = SpoolJournal.open(path)
  // An old batch stays unconfirmed (a replica away, say) while thousands go by.
  journal.take([viewBy('stuck')])
  journal.sealed('writer-1', 1, 1)
  const hundred = Array.from({ length: 100 }, (_, index) => viewBy(`visitor-${index}`))
  let seq = 1
  while (!journal.wantsRewrite) {
    seq += 1
    journal.take(hundred)
    journal.sealed('writer-1', seq, 100)
    journal.written('writer-1', seq)
  }
  t.ok(statSync(path).size > 8 * 1024 * 1024, `grown to ${statSync(path).size} bytes`)
  const stuck = readJournal(path).batches
  journal.rewrite(stuck, [])
  t.notOk(journal.wantsRewrite)
  t.ok(statSync(path).size < 1024, 'only the held batch is left')
  t.same(visitorsIn(path), { batches: [[1, ['stuck']]], views: [] })
  journal.take([viewBy('after')])
  t.same(visitorsIn(path), { batches: [[1, ['stuck']]], views: ['after'] }, 'appends go on after the rewrite')
})

t.test('a last line cut off by the kill is ignored: its page was never served', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const { journal } = SpoolJournal.open(path)
  journal.take([viewBy('alice')])
  appendFileSync(path, '["v",["index","2026-03-01","person","bo')
  t.same(visitorsIn(path), { batches: [], views: ['alice'] })
})

t.test('a journal that can\'t be read is an error naming SPOOL_JOURNAL, not an empty spool', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'spool.journal')
  for (const line of ['not json', '{"v":1}', '["v",["index"]]', '["v",["index","2026-03-01","robot","v",1,"","",""]]', '["s","writer",1,5]', '["x"]']) {
    writeFileSync(path, `["v",["index","2026-03-01","person","alice",1,"","",""]]\n${line}\n`)
    t.throws(() => SpoolJournal.open(path), { message: `SPOOL_JOURNAL ${path}: line 2 is not a journal entry; move the file aside to start without the views in it` }, line)
    t.notOk(existsSync(`${path}.lock`), 'and the lock is let go')
  }
  const directory = join(dir, 'a-directory')
  mkdirSync(directory)
  t.throws(() => readJournal(directory), { code: 'EISDIR' }, 'the views in it must not be silently lost')
})

t.test('the journal\'s directory is made when missing', async (t) => {
  const path = join(t.testdir(), 'var', 'deeper', 'spool.journal')
  const { journal } = SpoolJournal.open(path)
  journal.take([viewBy('alice')])
  t.same(visitorsIn(path).views, ['alice'])
})

t.test('a confirmation after the close changes nothing: the next start sends that batch again, and it counts once', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const { journal } = SpoolJournal.open(path)
  journal.take([viewBy('alice')])
  journal.sealed('writer-1', 1, 1)
  const { batches } = readJournal(path)
  journal.close(batches, [])
  journal.written('writer-1', 1)
  t.same(visitorsIn(path), { batches: [[1, ['alice']]], views: [] })
})

t.test('a lock that names no process, or was removed by hand, is no obstacle', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  writeFileSync(`${path}.lock`, 'garbage\n')
  const { journal } = SpoolJournal.open(path)
  rmSync(`${path}.lock`)
  t.doesNotThrow(() => journal.close([], []))
})

t.test('a journal whose lock can\'t be made is an error, not a journal without a lock', async (t) => {
  t.throws(() => SpoolJournal.open(join(t.testdir(), 'x'.repeat(300))), { code: 'ENAMETOOLONG' })
})

t.test('a journal to take over whose lock can\'t be made is an error, not views left behind', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  t.throws(() => SpoolJournal.open(path, [join(t.testdir(), 'x'.repeat(300))]), { code: 'ENAMETOOLONG' })
  t.notOk(existsSync(`${path}.lock`), 'its own lock is let go')
})
