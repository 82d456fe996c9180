import { existsSync } from 'node:fs'
import { deflateSync } from 'node:zlib'
import { Resvg } from '@resvg/resvg-js'
import type { ReportImage, ReportInput, TimelinePoint } from './model.ts'
import { escapeHtml } from './escape.ts'

/**
 * The report's time-series charts: hand-written SVG (polylines, axes, ticks, legend) rendered to
 * PNG by resvg with DejaVu Sans only, so a chart looks the same on every machine and mail client.
 */

/** DejaVu Sans (Debian `fonts-dejavu-core`): the charts' and the PDF's only font. */
export const DEJAVU_SANS = {
  regular: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  bold: '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
} as const

/** The font files, or an error that says which package provides them. */
export function fontFiles(): string[] {
  const files = [DEJAVU_SANS.regular, DEJAVU_SANS.bold]
  const missing = files.find((f) => !existsSync(f))
  if (missing) throw new Error(`Font ${missing} not found: install the Debian package fonts-dejavu-core`)
  return files
}

/** One line of a chart. */
export interface ChartSeries {
  label: string
  /** CSS colour */
  color: string
  /** SVG stroke-dasharray; a dashed line lets an equal series drawn before it show through its gaps */
  dash?: string
  /** one value per time of {@link ChartSpec.times}; NaN leaves a gap */
  values: number[]
}

/** A time-series chart. */
export interface ChartSpec {
  title: string
  /** unit of the values; the y axis picks an SI prefix (`k ops/s`, `MB/s`) */
  unit: 'ops/s' | 'B/s'
  /** x axis range, epoch seconds (widened to the data when points lie outside) */
  from: number
  to: number
  /** epoch seconds, ascending: each value stands for the poll interval (t − interval, t] */
  times: number[]
  /** seconds each point stands for (the poll interval) */
  interval: number
  series: ChartSeries[]
}

/** SVG user units; the PNG is rendered at {@link PNG_SCALE} times this. */
export const CHART_SIZE = { width: 640, height: 240 } as const
const PNG_SCALE = 2
const PAD = { left: 58, right: 20, top: 38, bottom: 30 }
const PLOT = { x: PAD.left, y: PAD.top, w: CHART_SIZE.width - PAD.left - PAD.right, h: CHART_SIZE.height - PAD.top - PAD.bottom }
const FONT = `font-family="DejaVu Sans"`
const AXIS = '#888'
const GRID = '#e3e3e3'
const INK = '#333'

/** The field colours of both charts: reads blue, writes red, metadata green/orange. */
export const SERIES_COLORS = { read: '#1f77b4', write: '#d62728', metaRead: '#2ca02c', metaWrite: '#ff7f0e' } as const

/**
 * Dash patterns by drawing order: each later series leaves gaps of a different length, so series
 * with equal values show all their colours instead of the last one drawn hiding the others.
 */
const DASHES = [undefined, '9 5', '4 4', '2 6'] as const

const r1 = (n: number) => Math.round(n * 10) / 10

/** A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about four intervals up to `max` (> 0). */
function niceStep(max: number): number {
  const raw = max / 4
  const mag = 10 ** Math.floor(Math.log10(raw))
  return ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag
}

const SI = ['', 'k', 'M', 'G', 'T', 'P']

/** The y ticks from 0 to at least `max`, and the SI prefix (power of 1000) their labels use. */
function yTicks(max: number): { ticks: number[]; div: number; prefix: string } {
  const step = max > 0 ? niceStep(max) : 1
  const top = max > 0 ? Math.ceil(max / step - 1e-9) * step : 1
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step)
  const e = Math.min(SI.length - 1, Math.max(0, Math.floor(Math.log10(top) / 3)))
  return { ticks, div: 1000 ** e, prefix: SI[e] }
}

const X_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]

/** Tick times on round UTC boundaries, two to seven (the steps grow at most 2.5× at a time), and how to label them. */
function xTicks(from: number, to: number): { ticks: number[]; label: (t: number) => string } {
  const span = to - from
  const step = X_STEPS.find((s) => span / s <= 6) ?? Math.ceil(span / 6 / 86400) * 86400
  const ticks: number[] = []
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t)
  if (ticks.length < 2) ticks.splice(0, ticks.length, from, to) // under a second: the window's ends
  const iso = (t: number) => new Date(t * 1000).toISOString()
  const label =
    step < 60
      ? (t: number) => iso(t).slice(11, 19)
      : span > 86400
        ? (t: number) => iso(t).slice(5, 16).replace('T', ' ')
        : (t: number) => iso(t).slice(11, 16)
  return { ticks, label }
}

/**
 * Splits a series into runs of finite values, breaking where a poll is missing (a step > 2.5 × the
 * interval). A point stamped t stands for (t − interval, t], so it is drawn at that interval's middle
 * and each run reaches out to the edges of its first and last intervals (within [from, to]): a
 * short job's lines span its window instead of starting one interval into it.
 */
function segments(times: number[], values: number[], interval: number, from: number, to: number): Array<Array<[number, number]>> {
  const clip = (t: number) => Math.min(to, Math.max(from, t))
  const out: Array<Array<[number, number]>> = []
  let run: Array<[number, number]> | undefined
  let last = 0 // time of the run's last point
  const close = () => void run?.push([clip(last), run.at(-1)![1]])
  times.forEach((t, i) => {
    const v = values[i]
    if (run && (!Number.isFinite(v) || t - last > interval * 2.5)) {
      close()
      run = undefined
    }
    if (!Number.isFinite(v)) return
    if (!run) out.push((run = [[clip(t - interval), v]]))
    run.push([clip(t - interval / 2), v])
    last = t
  })
  close()
  return out
}

/** Approximate text width in SVG units for DejaVu Sans (its average advance is about 0.6 em). */
const textWidth = (text: string, size: number) => text.length * size * 0.6

/** A chart as SVG markup ({@link CHART_SIZE}); an empty `times` draws the axes and "no activity recorded". */
export function chartSvg(spec: ChartSpec): string {
  let from = Math.min(spec.from, spec.times[0] ?? spec.from)
  let to = Math.max(spec.to, spec.times.at(-1) ?? spec.to)
  if (!(to > from)) [from, to] = [from - 30, from + 30] // one instant: half a minute either side
  const max = Math.max(0, ...spec.series.flatMap((s) => s.values.filter(Number.isFinite)))
  const y = yTicks(max)
  const top = y.ticks.at(-1)!
  const px = (t: number) => r1(PLOT.x + ((t - from) / (to - from)) * PLOT.w)
  const py = (v: number) => r1(PLOT.y + PLOT.h - (Math.max(0, v) / top) * PLOT.h)
  const unit = `${y.prefix}${spec.unit === 'ops/s' ? (y.prefix ? ' ' : '') + 'ops/s' : 'B/s'}`
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_SIZE.width}" height="${CHART_SIZE.height}" ` +
      `viewBox="0 0 ${CHART_SIZE.width} ${CHART_SIZE.height}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${PAD.left}" y="16" ${FONT} font-size="13" font-weight="bold" fill="${INK}">${escapeHtml(`${spec.title} (${unit})`)}</text>`,
  ]
  for (const v of y.ticks) {
    const yy = py(v)
    parts.push(`<line x1="${PLOT.x}" y1="${yy}" x2="${PLOT.x + PLOT.w}" y2="${yy}" stroke="${v === 0 ? AXIS : GRID}" stroke-width="1"/>`)
    const text = String(Number((v / y.div).toFixed(2)))
    parts.push(`<text x="${PLOT.x - 6}" y="${r1(yy + 4)}" ${FONT} font-size="10" fill="${INK}" text-anchor="end">${text}</text>`)
  }
  const x = xTicks(from, to)
  for (const t of x.ticks) {
    const xx = px(t)
    parts.push(`<line x1="${xx}" y1="${PLOT.y + PLOT.h}" x2="${xx}" y2="${PLOT.y + PLOT.h + 4}" stroke="${AXIS}" stroke-width="1"/>`)
    // a label at either end of the axis stays inside the image
    const half = textWidth(x.label(t), 10) / 2
    const anchor = xx + half > CHART_SIZE.width ? 'end' : xx - half < 0 ? 'start' : 'middle'
    parts.push(
      `<text x="${anchor === 'end' ? CHART_SIZE.width - 2 : xx}" y="${PLOT.y + PLOT.h + 16}" ` +
        `${FONT} font-size="10" fill="${INK}" text-anchor="${anchor}">${escapeHtml(x.label(t))}</text>`,
    )
  }
  parts.push(
    `<text x="${CHART_SIZE.width - 2}" y="${CHART_SIZE.height - 2}" ${FONT} font-size="9" fill="${AXIS}" text-anchor="end">UTC</text>`,
  )
  parts.push(`<line x1="${PLOT.x}" y1="${PLOT.y}" x2="${PLOT.x}" y2="${PLOT.y + PLOT.h}" stroke="${AXIS}" stroke-width="1"/>`)
  if (!spec.times.length) {
    parts.push(
      `<text x="${PLOT.x + PLOT.w / 2}" y="${PLOT.y + PLOT.h / 2}" ` +
        `${FONT} font-size="13" fill="${AXIS}" text-anchor="middle">no activity recorded</text>`,
    )
  }
  for (const s of spec.series) {
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : ''
    for (const run of segments(spec.times, s.values, spec.interval, from, to)) {
      parts.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} stroke-linejoin="round" ` +
          `points="${run.map(([t, v]) => `${px(t)},${py(v)}`).join(' ')}"/>`,
      )
    }
  }
  let lx = CHART_SIZE.width - PAD.right - spec.series.reduce((w, s) => w + 22 + textWidth(s.label, 10) + 10, 0) + 10
  for (const s of spec.series) {
    parts.push(
      `<line x1="${r1(lx)}" y1="28" x2="${r1(lx + 16)}" y2="28" ` +
        `stroke="${s.color}" stroke-width="3"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    )
    parts.push(`<text x="${r1(lx + 20)}" y="32" ${FONT} font-size="10" fill="${INK}">${escapeHtml(s.label)}</text>`)
    lx += 22 + textWidth(s.label, 10) + 10
  }
  parts.push('</svg>')
  return parts.join('\n')
}

/** Renders SVG to PNG at {@link PNG_SCALE}× with DejaVu Sans and no system fonts (identical output everywhere). */
export function chartPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: fontFiles(), defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    fitTo: { mode: 'width', value: CHART_SIZE.width * PNG_SCALE },
    background: '#fff',
  })
  const image = resvg.render()
  return rgbPng(image.pixels, image.width, image.height)
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(data: Buffer): number {
  let c = 0xffffffff
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'latin1')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}

/**
 * Opaque RGBA pixels as an RGB PNG (filter Sub on every row). resvg only writes RGBA, and pdfkit
 * decodes a PNG with alpha asynchronously to split off a soft mask: slower, and the PDF's object
 * order then depends on timing, so the same report would not give the same bytes.
 */
function rgbPng(rgba: Buffer, width: number, height: number): Buffer {
  const stride = width * 3 + 1
  const raw = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 1 // Sub: each byte minus the same channel of the pixel to its left
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < 3; ch++) {
        const v = rgba[(y * width + x) * 4 + ch]
        const left = x ? rgba[(y * width + x - 1) * 4 + ch] : 0
        raw[y * stride + 1 + x * 3 + ch] = (v - left) & 0xff
      }
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8 bits, truecolour, deflate, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))])
}

/** The two chart specs of a job: IOPS (the four op fields) and throughput (read, write), over the job's window. */
export function reportChartSpecs(input: Pick<ReportInput, 'stats' | 'timeline'>): ChartSpec[] {
  const times = input.timeline.map((p) => p.time)
  const from = Date.parse(input.stats.window.start) / 1000
  const end = Date.parse(input.stats.window.end) / 1000
  const to = Number.isFinite(end) ? end : (times.at(-1) ?? from)
  const col = (i: number) => input.timeline.map((p: TimelinePoint) => p.values[i] ?? NaN)
  const c = SERIES_COLORS
  const dashed = (series: ChartSeries[]) => series.map((s, i) => (DASHES[i] ? { ...s, dash: DASHES[i] } : s))
  const interval = input.stats.intervalSeconds
  return [
    {
      title: 'IOPS',
      unit: 'ops/s',
      from,
      to,
      times,
      interval,
      series: dashed([
        { label: 'read', color: c.read, values: col(0) },
        { label: 'write', color: c.write, values: col(1) },
        { label: 'metadata read', color: c.metaRead, values: col(2) },
        { label: 'metadata write', color: c.metaWrite, values: col(3) },
      ]),
    },
    {
      title: 'Throughput',
      unit: 'B/s',
      from,
      to,
      times,
      interval,
      series: dashed([
        { label: 'read', color: c.read, values: col(4) },
        { label: 'write', color: c.write, values: col(5) },
      ]),
    },
  ]
}

/** The content IDs of the two charts (`cid:` in the e-mail HTML). */
export const CHART_CIDS = ['iops@qactivity', 'throughput@qactivity'] as const

/** A job's two charts as PNG images, IOPS first. */
export function renderCharts(input: Pick<ReportInput, 'stats' | 'timeline'>): ReportImage[] {
  return reportChartSpecs(input).map((spec, i) => ({
    cid: CHART_CIDS[i],
    filename: `${CHART_CIDS[i].split('@')[0]}.png`,
    contentType: 'image/png',
    content: chartPng(chartSvg(spec)),
  }))
}
