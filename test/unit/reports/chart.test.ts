import { describe, expect, it } from 'vitest'
import { Resvg } from '@resvg/resvg-js'
import {
  CHART_CIDS,
  CHART_SIZE,
  chartPng,
  chartSvg,
  fontFiles,
  renderCharts,
  reportChartSpecs,
  SERIES_COLORS,
  type ChartSpec,
} from '../../../reports/chart.ts'
import { reportInput } from '../../support/report-input.ts'

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Width and height from a PNG's IHDR chunk (right after the signature). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true)
  expect(png.toString('latin1', 12, 16)).toBe('IHDR')
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

/** Pixels of the plot area (below the legend) within a small distance of each colour, at 2× as in the report. */
function colourPixels(svg: string, colours: string[]): number[] {
  const img = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: fontFiles() },
    fitTo: { mode: 'width', value: CHART_SIZE.width * 2 },
  }).render()
  const px = img.pixels // a getter that copies: read it once
  const rgb = colours.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)))
  const counts = colours.map(() => 0)
  for (let y = 80; y < img.height - 64; y++) {
    for (let x = 120; x < img.width; x++) {
      const o = (y * img.width + x) * 4
      rgb.forEach((c, k) => {
        if (Math.abs(px[o] - c[0]) + Math.abs(px[o + 1] - c[1]) + Math.abs(px[o + 2] - c[2]) < 40) counts[k]++
      })
    }
  }
  return counts
}

/** The x positions of a polyline's points. */
const xs = (polyline: string) => [...polyline.matchAll(/(-?[\d.]+),-?[\d.]+/g)].map((m) => Number(m[1]))

describe('report charts', () => {
  it('shows every series when several have equal values: none hides another', () => {
    const input = reportInput()
    for (const p of input.timeline) p.values = [350, 350, 350, 350, 1.7e8, 1.7e8] // below the top tick, away from the legend
    const [iops, throughput] = reportChartSpecs(input).map(chartSvg)
    const c = SERIES_COLORS
    const four = colourPixels(iops, [c.read, c.write, c.metaRead, c.metaWrite])
    expect(
      four.every((n) => n > 300),
      `pixels per colour: ${four}`,
    ).toBe(true) // one solid line alone is ~4,500
    const two = colourPixels(throughput, [c.read, c.write])
    expect(
      two.every((n) => n > 300),
      `pixels per colour: ${two}`,
    ).toBe(true)
  })

  it("draws a short job's lines across its whole window, each point over the poll interval it stands for", () => {
    const input = reportInput({ points: 3 }) // polls at +60, +120, +180 s of a three-minute job
    const svg = chartSvg(reportChartSpecs(input)[0])
    const lines = svg.match(/<polyline [^>]*>/g)!
    expect(lines).toHaveLength(4)
    for (const line of lines) {
      expect(xs(line)[0]).toBe(58) // the plot's left edge: the window's start
      expect(xs(line).at(-1)).toBe(620) // its right edge: the window's end
    }
  })

  it('labels at least two x ticks however short the window', () => {
    for (const seconds of [1, 3, 8, 25, 45, 100, 250, 3600 * 30]) {
      const from = Date.parse('2026-11-23T10:00:00.400Z') / 1000
      const times = Array.from({ length: 5 }, (_, i) => from + ((i + 1) * seconds) / 5)
      const spec: ChartSpec = {
        title: 'IOPS',
        unit: 'ops/s',
        from,
        to: from + seconds,
        times,
        interval: seconds / 5,
        series: [{ label: 'read', color: '#000', values: [1, 2, 3, 2, 1] }],
      }
      const labels = chartSvg(spec).match(/<text [^>]*y="226"[^>]*>[^<]+</g) ?? []
      expect(labels.length, `${seconds} s`).toBeGreaterThanOrEqual(2)
      expect(new Set(labels.map((l) => l.split('>')[1])).size, `${seconds} s: distinct labels`).toBe(labels.length)
    }
  })

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

  it('draws a one-point timeline as a line over its interval, also when the window is a single instant', () => {
    const input = reportInput({ points: 1 })
    input.stats.window.start = input.stats.window.end = new Date(input.timeline[0].time * 1000).toISOString()
    const svg = chartSvg(reportChartSpecs(input)[1])
    expect(svg.match(/<polyline /g)).toHaveLength(2)
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
