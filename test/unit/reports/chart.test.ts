import { describe, expect, it } from 'vitest'
import { CHART_CIDS, CHART_SIZE, chartPng, chartSvg, renderCharts, reportChartSpecs } from '../../../reports/chart.ts'
import { reportInput } from '../../support/report-input.ts'

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Width and height from a PNG's IHDR chunk (right after the signature). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true)
  expect(png.toString('latin1', 12, 16)).toBe('IHDR')
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

describe('report charts', () => {
  it('renders the IOPS and throughput charts of a job as PNGs twice the SVG size', () => {
    const images = renderCharts(reportInput())
    expect(images.map((i) => i.cid)).toEqual([...CHART_CIDS])
    expect(images.map((i) => i.filename)).toEqual(['iops.png', 'throughput.png'])
    for (const img of images) {
      expect(img.contentType).toBe('image/png')
      expect(pngSize(img.content)).toEqual({ width: CHART_SIZE.width * 2, height: CHART_SIZE.height * 2 })
    }
  })

  it('draws four IOPS series and two throughput series with a legend and human units', () => {
    const [iops, throughput] = reportChartSpecs(reportInput()).map(chartSvg)
    expect(iops.match(/<polyline /g)).toHaveLength(4)
    expect(throughput.match(/<polyline /g)).toHaveLength(2)
    for (const label of ['read', 'write', 'metadata read', 'metadata write']) expect(iops).toContain(`>${label}</text>`)
    expect(iops).toContain('IOPS (k ops/s)') // peaks around 1,560 ops/s
    expect(throughput).toContain('Throughput (MB/s)')
    expect(iops).toContain('>10:30</text>') // x ticks in UTC across the one-hour window
  })

  it('says "no activity recorded" for an empty timeline and still renders', () => {
    const input = reportInput({ points: 0 })
    input.stats.window.end = '2026-11-23T10:05:00.000Z'
    const svg = chartSvg(reportChartSpecs(input)[0])
    expect(svg).toContain('no activity recorded')
    expect(svg).not.toContain('<polyline')
    expect(pngSize(chartPng(svg)).width).toBe(CHART_SIZE.width * 2)
  })

  it('draws a one-point timeline as dots, also when the window is a single instant', () => {
    const input = reportInput({ points: 1 })
    input.stats.window.start = input.stats.window.end = new Date(input.timeline[0].time * 1000).toISOString()
    const svg = chartSvg(reportChartSpecs(input)[1])
    expect(svg.match(/<circle /g)).toHaveLength(2)
    expect(svg).not.toContain('<polyline')
    expect(svg).not.toMatch(/NaN|Infinity/)
    expect(pngSize(chartPng(svg)).height).toBe(CHART_SIZE.height * 2)
  })

  it('breaks a line where polls are missing instead of bridging the gap', () => {
    const input = reportInput()
    input.timeline.splice(20, 10) // ten polls lost
    const svg = chartSvg(reportChartSpecs(input)[1])
    expect(svg.match(/<polyline /g)).toHaveLength(4) // two series × two runs
  })
})
