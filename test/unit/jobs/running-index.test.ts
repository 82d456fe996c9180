import { describe, expect, it } from 'vitest'
import { RunningIndex } from '../../../jobs/running-index.ts'

describe('RunningIndex', () => {
  it('lists newest first (then the greater id), after a cursor, whatever the order of insertion and removal', () => {
    const idx = new RunningIndex()
    const k = (s: number, id: string) => ({ startedAt: `2026-12-01T10:00:0${s}.000Z`, id })
    for (const key of [k(3, 'c'), k(1, 'a'), k(5, 'e'), k(3, 'd'), k(2, 'b'), k(1, 'a')]) idx.add(key)
    expect(idx.size).toBe(5)
    expect([...idx.newestFirst()]).toEqual(['e', 'd', 'c', 'b', 'a'])
    expect([...idx.newestFirst(k(3, 'd'))]).toEqual(['c', 'b', 'a'])
    expect([...idx.newestFirst(k(4, 'zz'))]).toEqual(['d', 'c', 'b', 'a']) // a cursor between keys
    idx.delete(k(3, 'c'))
    idx.delete(k(9, 'nope'))
    expect([...idx.newestFirst()]).toEqual(['e', 'd', 'b', 'a'])
    expect(idx.has('c')).toBe(false)
  })
})
