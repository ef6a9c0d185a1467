/**
 * Remembers the answers of `compute`, a pure function of a string, for the strings that come
 * back: user agents and visitor cookies repeat across views. Keys come from requests, so the
 * memory is bounded twice: keys longer than `maxKeyLength` are computed every time, and when
 * `capacity` keys are held the memory starts over (the keys that matter come straight back).
 */
export function memoize<V extends {} | null> (compute: (key: string) => V, { capacity, maxKeyLength }: { capacity: number, maxKeyLength: number }): (key: string) => V {
  const answers = new Map<string, V>()
  return (key) => {
    if (key.length > maxKeyLength) return compute(key)
    const known = answers.get(key)
    if (known !== undefined) return known
    if (answers.size >= capacity) answers.clear()
    const answer = compute(key)
    answers.set(key, answer)
    return answer
  }
}
