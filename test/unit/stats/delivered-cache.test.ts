import { describe, expect, it } from 'vitest'
import { cachedDelivered } from '../../../stats/delivered.ts'

describe('cachedDelivered', () => {
  it('asks once per cluster a second: a delivered time stays delivered, a "not yet" holds for later times', async () => {
    let now = 0
    let watermark = 100
    const asked: Array<[string, number]> = []
    const check = cachedDelivered(
      async (cluster, untilS) => {
        asked.push([cluster, untilS])
        return untilS <= watermark
      },
      1000,
      () => now,
    )
    expect(await check('a', 90)).toBe(true)
    expect(await check('a', 80)).toBe(true) // earlier than a delivered time: no query
    expect(await check('a', 120)).toBe(false)
    expect(await check('a', 130)).toBe(false) // later than a "not yet" within the second: no query
    expect(await check('a', 95)).toBe(true) // earlier than the "not yet": asked
    expect(await check('b', 130)).toBe(false) // another cluster: its own answers
    watermark = 200
    now = 1000
    expect(await check('a', 130)).toBe(true)
    expect(asked).toEqual([
      ['a', 90],
      ['a', 120],
      ['a', 95],
      ['b', 130],
      ['a', 130],
    ])
  })
})
