import { describe, expect, it } from 'vitest'
import { nextTick, startTicker } from '../../../collector/schedule.ts'

describe('schedule', () => {
  it('ticks on the epoch grid of the interval', () => {
    expect(nextTick(1_700_000_000_000, 60)).toBe(1_700_000_040)
    expect(nextTick(1_700_000_039_999, 60)).toBe(1_700_000_040)
    expect(nextTick(1_700_000_040_000, 60)).toBe(1_700_000_100)
    expect(nextTick(5_500, 1)).toBe(6)
  })

  it('runs cycles on consecutive grid seconds without drift and skips ticks a slow cycle overran', async () => {
    const seen: Array<[number, number]> = []
    const ticker = startTicker(1, async (tick, skipped) => {
      seen.push([tick, skipped])
      if (seen.length === 2) await new Promise((r) => setTimeout(r, 2100)) // overrun two ticks
      if (seen.length === 3) ticker.stop()
    })
    await ticker.done
    expect(seen[1][0] - seen[0][0]).toBe(1)
    expect(seen[2][1]).toBeGreaterThanOrEqual(1)
    expect(seen[2][0] - seen[1][0]).toBe(seen[2][1] + 1)
  }, 10_000)
})
