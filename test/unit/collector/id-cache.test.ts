import { describe, expect, it } from 'vitest'
import { IdPathCache } from '../../../collector/id-cache.ts'

const id = (n: number) => '131072291465916581' + String(n).padStart(12, '0')

describe('IdPathCache', () => {
  it('keeps ~30-digit ids distinct, also ones that differ only in the prefix', () => {
    const c = new IdPathCache(100, 1000, () => 0)
    c.set(id(1), '/a')
    c.set('231072291465916581' + String(1).padStart(12, '0'), '/b')
    c.set('x-odd-id', '/c')
    expect([c.get(id(1)), c.get('231072291465916581000000000001'), c.get('x-odd-id'), c.get(id(2))]).toEqual(['/a', '/b', '/c', undefined])
  })

  it('reuses a path for at least ttl/2 and at most ttl', () => {
    let now = 0
    const c = new IdPathCache(100, 1000, () => now)
    c.set(id(1), '/a')
    now = 499
    expect(c.get(id(1))).toBe('/a')
    now = 700 // rotated at 500: still readable from the previous generation
    expect(c.get(id(1))).toBe('/a')
    now = 1001 // the generation holding it is gone
    expect(c.get(id(1))).toBeUndefined()
  })

  it('never holds more than max ids', () => {
    const c = new IdPathCache(10, 1e9, () => 0)
    for (let i = 0; i < 100; i++) c.set(id(i), '/d')
    expect(c.size).toBeLessThanOrEqual(10)
    expect(c.get(id(99))).toBe('/d')
  })

  it('counts an overwrite once', () => {
    const c = new IdPathCache(10, 1e9, () => 0)
    c.set(id(1), '/a')
    c.set(id(1), '/b')
    expect([c.size, c.get(id(1))]).toEqual([1, '/b'])
  })
})
