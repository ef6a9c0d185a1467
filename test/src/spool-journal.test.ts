import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { ViewBatch } from '../../src/store/record-views.js'
import { readJournal, writeJournal } from '../../src/spool-journal.js'

function batch (seq: number, visitor: string, clientIp = '203.0.113.9'): ViewBatch {
  return {
    writerId: 'a1b2c3',
    seq,
    groups: [{ page: 'index', day: '2026-03-01', views: [{ kind: 'person', clientIp, visit: { visitor, time: 1772323200000 + seq, ip: '203.0.113.0', userAgent: 'Firefox "quoted"\nnewline', referrer: 'https://r.example/' } }] }]
  }
}

/** A batch as the journal gives it back: its views' full client addresses are not kept. */
function journaled (seq: number, visitor: string): ViewBatch {
  return batch(seq, visitor, '')
}

t.test('no journal means nothing to replay', async (t) => {
  t.same(readJournal(join(t.testdir(), 'spool.journal')), [])
})

t.test('batches come back as they were written, in order, with writer id and number', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  const batches = [batch(7, 'alice'), batch(8, 'bob')]
  writeJournal(path, batches)
  t.same(readJournal(path), [journaled(7, 'alice'), journaled(8, 'bob')])
  t.equal(readFileSync(path, 'utf8').split('\n').length, 3, 'one line per batch, newline-terminated')
})

t.test('the journal holds no full client address, and only its owner may read it', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  writeJournal(path, [batch(1, 'alice')])
  t.notMatch(readFileSync(path, 'utf8'), '203.0.113.9', 'the address, kept for the rate limit only, stays in memory')
  t.match(readFileSync(path, 'utf8'), '203.0.113.0', 'the address as the visitor log keeps it is still there')
  t.equal(statSync(path).mode & 0o777, 0o600)
})

t.test('writing replaces the journal, leaving no temporary file', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'spool.journal')
  writeJournal(path, [batch(1, 'alice'), batch(2, 'bob')])
  writeJournal(path, [batch(3, 'carol')])
  t.same(readJournal(path), [journaled(3, 'carol')])
  t.same(readdirSync(dir), ['spool.journal'])
})

t.test('an empty spool removes the journal, so it is not replayed twice', async (t) => {
  const path = join(t.testdir(), 'spool.journal')
  writeJournal(path, [batch(1, 'alice')])
  writeJournal(path, [])
  t.notOk(existsSync(path))
  t.doesNotThrow(() => writeJournal(path, []), 'nor is a missing journal an error')
})

t.test('the journal\'s directory is made when missing', async (t) => {
  const path = join(t.testdir(), 'var', 'deeper', 'spool.journal')
  writeJournal(path, [batch(1, 'alice')])
  t.same(readJournal(path), [journaled(1, 'alice')])
})

t.test('a journal that can\'t be read is an error, not an empty spool', async (t) => {
  const directory = join(t.testdir(), 'a-directory')
  mkdirSync(directory)
  t.throws(() => readJournal(directory), { code: 'EISDIR' }, 'the views in it must not be silently lost')
})
