import { describe, expect, it } from 'vitest'
import { MAX_RAW_SPAN_SECONDS, splitRange } from '../../../stats/range.ts'
import type { InfluxConfig } from '../../../lib/config.ts'

const DAY = 86_400
const NOW = 1000 * DAY + 1234 // epoch s, mid-hour
const influx = (raw: string): InfluxConfig => ({ url: 'http://x', bucket: 'q', queryLanguage: 'influxql', retention: { raw, jobs: 'INF' } })
const opts = (raw: string, rollupSeconds = 3600) => ({ influx: influx(raw), intervalSeconds: 60, rollupSeconds, now: () => NOW * 1000 })

describe('splitRange', () => {
  it('answers inside raw retention from raw points only, cut to the poll grid', () => {
    const from = Math.floor((NOW - 7200 + 5) / 60) * 60
    const to = Math.ceil((NOW - 30) / 60) * 60
    expect(splitRange({ from: NOW - 7200 + 5, to: NOW - 30 }, opts('30d'))).toEqual({ from, to, raw: { from, to } })
  })

  it('answers before the boundary from whole rollup periods, and across it from both without overlap or gap', () => {
    const boundary = Math.ceil((NOW - 30 * DAY) / 3600) * 3600
    const across = splitRange({ from: NOW - 40 * DAY + 100, to: NOW }, opts('30d'))
    expect(across.rollups).toEqual({ from: Math.floor((NOW - 40 * DAY + 100) / 3600) * 3600, to: boundary })
    expect(across.raw).toEqual({ from: boundary, to: Math.ceil(NOW / 60) * 60 })
    const before = splitRange({ from: NOW - 40 * DAY, to: NOW - 35 * DAY + 1 }, opts('30d'))
    expect(before.raw).toBeUndefined()
    expect(before.to % 3600).toBe(0)
    expect(before.rollups).toEqual({ from: before.from, to: before.to })
  })

  it('reads months of raw points kept forever from the rollups beyond the last 31 days', () => {
    const s = splitRange({ from: NOW - 365 * DAY, to: NOW }, opts('INF'))
    expect(s.raw!.from).toBe(Math.ceil((NOW - MAX_RAW_SPAN_SECONDS) / 3600) * 3600)
    expect(s.rollups!.to).toBe(s.raw!.from)
  })

  it('without rollups answers from where raw points are still kept, and says so', () => {
    const s = splitRange({ from: NOW - 60 * DAY, to: NOW }, opts('30d', 0))
    expect(s.rollups).toBeUndefined()
    expect(s.from).toBe(Math.ceil((NOW - 30 * DAY) / 60) * 60)
    expect(s.raw).toEqual({ from: s.from, to: s.to })
  })
})
