import t from 'tap'
import { memoize } from '../../src/memo.js'

/** A memoized check that counts how often it really ran. */
function counted (capacity: number, maxKeyLength = 16): { check: (key: string) => boolean, runs: () => number } {
  let runs = 0
  const check = memoize((key) => {
    runs += 1
    return key.startsWith('bot')
  }, { capacity, maxKeyLength })
  return { check, runs: () => runs }
}

t.test('a key seen before is answered from memory, false answers included', async (t) => {
  const { check, runs } = counted(10)
  t.same(['bot-a', 'person', 'bot-a', 'person'].map(check), [true, false, true, false])
  t.equal(runs(), 2, 'each key computed once')
})

t.test('memory is bounded: past its capacity it starts over', async (t) => {
  const { check, runs } = counted(3)
  for (const key of ['a', 'b', 'c']) check(key)
  check('a')
  t.equal(runs(), 3, 'all three remembered')
  check('d')
  check('a')
  t.equal(runs(), 5, 'the fourth key cleared the memory, so the first is computed again')
})

t.test('keys longer than the limit are computed every time, never kept', async (t) => {
  const { check, runs } = counted(10, 8)
  const long = 'bot'.repeat(10)
  t.equal(check(long), true)
  t.equal(check(long), true)
  t.equal(runs(), 2)
})
