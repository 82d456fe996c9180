import { describe, expect, it, vi } from 'vitest'
import { nextTick, startTicker } from '../../../collector/schedule.ts'

describe('schedule', () => {
  it('ticks on the epoch grid of the interval', () => {
    expect(nextTick(1_700_000_000_000, 60)).toBe(1_700_000_040)
    expect(nextTick(1_700_000_039_999, 60)).toBe(1_700_000_040)
    expect(nextTick(1_700_000_040_000, 60)).toBe(1_700_000_100)
    expect(nextTick(5_500, 1)).toBe(6)
  })

  it('runs cycles on consecutive grid seconds without drift and skips ticks a slow cycle overran', async () => {
    // A fake clock: a loaded machine must not turn a late timer into a skipped tick.
    vi.useFakeTimers({ now: 1_700_000_000_500 })
    try {
      const seen: Array<[number, number]> = []
      const ticker = startTicker(1, async (tick, skipped) => {
        seen.push([tick, skipped])
        if (seen.length === 2) await new Promise((r) => setTimeout(r, 2100)) // overrun two ticks
        if (seen.length === 3) ticker.stop()
      })
      await vi.advanceTimersByTimeAsync(5000)
      await ticker.done
      expect(seen).toEqual([
        [1_700_000_001, 0],
        [1_700_000_002, 0],
        [1_700_000_005, 2],
      ])
    } finally {
      vi.useRealTimers()
    }
  })
})
