import { existsSync } from 'node:fs'
import PDFDocument from 'pdfkit'
import type { JobStatus } from '../jobs/types.ts'
import { formatTime } from '../lib/units.ts'
import type { ReportImage, ReportInput } from './model.ts'
import { CHART_SIZE, fontFiles } from './chart.ts'
import {
  legendText,
  reportContent,
  type Cell,
  type Column,
  type ReportContent,
  type Section,
  type TableSection,
  type Tone,
} from './content.ts'
import { TextSetter, type TextLine, type TextStyle } from './pdf-text.ts'

/**
 * The report as an A4 PDF with the HTML's content (reports/content.ts): DejaVu Sans embedded
 * (plus a CJK fallback font when installed), the chart PNGs, tables that continue on the next page
 * with their header repeated, and metadata dated `generatedAt` so the same input gives the same bytes.
 */

/** Fonts for the characters DejaVu Sans lacks (CJK), first found wins: Debian `fonts-droid-fallback`. */
export const FALLBACK_FONTS = [
  '/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf',
  '/usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf',
]

const MARGIN = 48
const INK = '#1f2937'
const MUTED = '#6b7280'
const RULE = '#e5e7eb'
/** cell padding: vertical, and horizontal (wide enough that adjacent right-aligned numbers read as columns) */
const PAD = 4
const PAD_X = 8
const TONE: Record<Tone, { bg: string; fg: string }> = { up: { bg: '#fde2e1', fg: '#b42318' }, down: { bg: '#dcfce7', fg: '#166534' } }
const STATUS: Record<JobStatus, { bg: string; fg: string }> = {
  succeeded: { bg: '#dcfce7', fg: '#166534' },
  failed: { bg: '#fde2e1', fg: '#b42318' },
  running: { bg: '#dbeafe', fg: '#1d4ed8' },
  cancelled: { bg: '#f3f4f6', fg: '#4b5563' },
}
const BODY: TextStyle = { size: 9 }
const CELL: TextStyle = { size: 8.5 }
const HEAD: TextStyle = { size: 8, bold: true, color: '#374151' }
const H2: TextStyle = { size: 12, bold: true, color: '#111827' }
/** a table cell never grows beyond this many lines (a 4096-byte path): the rest is cut with an ellipsis */
const MAX_CELL_LINES = 12

/** Lays the report out top to bottom, adding pages as it goes. */
class PdfWriter {
  y = MARGIN
  readonly left = MARGIN
  readonly width: number
  private readonly bottom: number

  constructor(
    readonly doc: PDFKit.PDFDocument,
    readonly text: TextSetter,
  ) {
    this.width = doc.page.width - 2 * MARGIN
    this.bottom = doc.page.height - MARGIN
  }

  /** Starts a new page unless `height` points still fit on this one; true when it did. */
  ensure(height: number): boolean {
    if (this.y + height <= this.bottom) return false
    this.doc.addPage()
    this.y = MARGIN
    return true
  }

  paragraph(text: string, style: TextStyle, gap = 4): void {
    const lh = this.text.lineHeight(style.size)
    for (const line of this.text.wrap(text, this.width, style)) {
      this.ensure(lh)
      this.y += this.text.draw([line], this.left, this.y, this.width, style)
    }
    this.y += gap
  }

  /** A section title, on the same page as the first `keep` points of what follows (a chart, a table's header and first rows). */
  heading(title: string, keep: number): void {
    this.ensure(10 + this.text.lineHeight(H2.size) + Math.min(keep, this.bottom - MARGIN - 40))
    this.y += 6
    this.y += this.text.draw(this.text.wrap(title, this.width, H2, 2), this.left, this.y, this.width, H2)
    this.y += 4
  }

  fill(x: number, y: number, w: number, h: number, color: string): void {
    this.doc.save().rect(x, y, w, h).fill(color).restore()
  }

  rule(y: number): void {
    this.doc
      .save()
      .moveTo(this.left, y)
      .lineTo(this.left + this.width, y)
      .lineWidth(0.5)
      .strokeColor(RULE)
      .stroke()
      .restore()
  }
}

/** The wide column keeps at least this much room before `start → end` columns wrap at their arrow. */
const MIN_WIDE = 120

function columnWidths(w: PdfWriter, t: TableSection): number[] {
  const parts = (text: string, split: boolean) => (split ? text.split(/(?<=→) /) : [text])
  const measure = (split: (c: Column) => boolean) =>
    t.columns.map((c, i) => {
      const widest = (text: string, style: TextStyle) => Math.max(...parts(text, split(c)).map((p) => w.text.width(p, style)))
      return Math.max(widest(c.label, HEAD), ...t.rows.map((r) => widest(r[i]?.text ?? '', cellStyle(r[i])))) + 2 * PAD_X + 1
    })
  const flex = Math.max(
    0,
    t.columns.findIndex((c) => c.wide),
  )
  const others = (ns: number[]) => ns.reduce((s, n, i) => (i === flex ? s : s + n), 0)
  // while too wide on one line each, one wrapping column after another takes only the wider side of its arrow
  const split = new Set<Column>()
  let natural = measure(() => false)
  for (const c of t.columns.filter((x) => x.wrap)) {
    if (others(natural) + MIN_WIDE <= w.width) break
    split.add(c)
    natural = measure((x) => split.has(x))
  }
  natural[flex] = Math.max(60, w.width - others(natural))
  const total = natural.reduce((s, n) => s + n, 0)
  return total > w.width ? natural.map((n) => (n * w.width) / total) : natural
}

const cellStyle = (c: Cell | undefined): TextStyle => (c?.tone ? { ...CELL, bold: true, color: TONE[c.tone].fg } : CELL)

interface RowLayout {
  cells: Array<Cell | undefined>
  lines: TextLine[][]
  height: number
  header: boolean
}

function layoutRow(w: PdfWriter, cells: Array<Cell | undefined>, widths: number[], header: boolean): RowLayout {
  const lines = cells.map((c, i) => w.text.wrap(c?.text ?? '', widths[i] - 2 * PAD_X, header ? HEAD : cellStyle(c), MAX_CELL_LINES))
  const height = Math.max(1, ...lines.map((l) => l.length)) * w.text.lineHeight(header ? HEAD.size : CELL.size) + 2 * PAD
  return { cells, lines, height, header }
}

function drawRow(w: PdfWriter, row: RowLayout, t: TableSection, widths: number[]): void {
  let x = w.left
  if (row.header) w.fill(w.left, w.y, w.width, row.height, '#f3f4f6')
  row.cells.forEach((c, i) => {
    if (!row.header && c?.tone) w.fill(x, w.y, widths[i], row.height, TONE[c.tone].bg)
    const style = row.header ? HEAD : cellStyle(c)
    w.text.draw(row.lines[i], x + PAD_X, w.y + PAD, widths[i] - 2 * PAD_X, { ...style, align: t.columns[i].align })
    x += widths[i]
  })
  w.y += row.height
  w.rule(w.y)
}

const INTRO: TextStyle = { size: 8.5, color: MUTED }

function drawTable(w: PdfWriter, t: TableSection): void {
  const widths = columnWidths(w, t)
  const header = layoutRow(
    w,
    t.columns.map((c) => ({ text: c.label })),
    widths,
    true,
  )
  const rows = t.rows.map((cells) => layoutRow(w, cells, widths, false))
  // the title, intro, header and first two rows stay together: a header never ends a page alone
  const intro = t.intro ? w.text.wrap(t.intro, w.width, INTRO).length * w.text.lineHeight(INTRO.size) + 4 : 0
  w.heading(t.title, intro + header.height + rows.slice(0, 2).reduce((h, r) => h + r.height, 0))
  if (t.intro) w.paragraph(t.intro, INTRO)
  drawRow(w, header, t, widths)
  for (const row of rows) {
    if (w.ensure(row.height)) drawRow(w, header, t, widths)
    drawRow(w, row, t, widths)
  }
  if (t.note) {
    w.y += 3
    w.paragraph(t.note, { size: 7.5, color: MUTED }, 0)
  }
  if (t.thresholdPct !== undefined) drawLegend(w, t.thresholdPct)
  w.y += 6
}

/** The highlight legend: the words "red" and "green" set in their highlight colours. */
function drawLegend(w: PdfWriter, thresholdPct: number): void {
  const l = legendText(thresholdPct)
  const size = 7.5
  w.y += 3
  w.ensure(2 * w.text.lineHeight(size)) // its two lines together
  w.paragraph(l.before.trim(), { size, color: MUTED }, 0)
  w.ensure(w.text.lineHeight(size))
  let x = w.left
  const parts: Array<[string, Tone | undefined]> = [
    [l.red, 'up'],
    [l.middle, undefined],
    [l.green, 'down'],
    [l.after, undefined],
  ]
  for (const [text, tone] of parts) {
    const style: TextStyle = tone ? { size, bold: true, color: TONE[tone].fg } : { size, color: MUTED }
    const width = w.text.width(text, style)
    if (tone) w.fill(x - 1, w.y, width + 2, w.text.lineHeight(size), TONE[tone].bg)
    w.text.draw(w.text.wrap(text, width + 1, style, 1), x, w.y, width + 1, style)
    x += width
  }
  w.y += w.text.lineHeight(size)
}

function drawComments(w: PdfWriter, comments: ReportInput['job']['comments']): void {
  const lh = w.text.lineHeight(BODY.size)
  for (const c of comments) {
    w.ensure(2 * lh + 4)
    const head = `${c.author}  ·  ${formatTime(c.at)}`
    w.y += w.text.draw(w.text.wrap(head, w.width, { size: 8.5, bold: true }, 2), w.left, w.y, w.width, { size: 8.5, bold: true })
    w.paragraph(c.text, BODY, 2)
    w.rule(w.y)
    w.y += 5
  }
}

const chartHeight = (w: PdfWriter) => (w.width * CHART_SIZE.height) / CHART_SIZE.width

function drawCharts(w: PdfWriter, images: ReportImage[]): void {
  const h = chartHeight(w)
  for (const img of images) {
    w.ensure(h + 8)
    w.doc.image(img.content, w.left, w.y, { width: w.width })
    w.y += h + 8
  }
}

function drawHeader(w: PdfWriter, c: ReportContent): void {
  const title: TextStyle = { size: 18, bold: true, color: '#111827' }
  w.y += w.text.draw(w.text.wrap(c.name, w.width, title, 3), w.left, w.y, w.width, title) + 4
  const badge: TextStyle = { size: 8.5, bold: true, color: STATUS[c.status]?.fg ?? INK }
  const bw = w.text.width(c.statusText, badge) + 12
  w.doc
    .save()
    .roundedRect(w.left, w.y, bw, 15, 7)
    .fill(STATUS[c.status]?.bg ?? '#eee')
    .restore()
  w.text.draw(w.text.wrap(c.statusText, bw, badge, 1), w.left + 6, w.y + 2, bw, badge)
  w.y += 22
  const keyWidth = Math.max(...c.facts.map(([k]) => w.text.width(k, { size: 9 }))) + 12
  for (const [k, v] of c.facts) {
    const lines = w.text.wrap(v, w.width - keyWidth, BODY, 6)
    w.ensure(lines.length * w.text.lineHeight(BODY.size))
    w.text.draw(w.text.wrap(k, keyWidth, { size: 9, color: MUTED }, 1), w.left, w.y, keyWidth, { size: 9, color: MUTED })
    w.y += w.text.draw(lines, w.left + keyWidth, w.y, w.width - keyWidth, BODY)
  }
  if (c.grafanaUrl) {
    w.y += 6
    const link: TextStyle = { size: 10, bold: true, color: '#2563eb' }
    const label = 'Open the job dashboard in Grafana'
    const lw = w.text.width(label, link)
    w.text.draw(w.text.wrap(label, lw + 1, link, 1), w.left, w.y, lw + 1, link)
    w.doc.link(w.left, w.y, lw, w.text.lineHeight(link.size), c.grafanaUrl)
    w.doc
      .save()
      .moveTo(w.left, w.y + 12)
      .lineTo(w.left + lw, w.y + 12)
      .lineWidth(0.6)
      .strokeColor('#2563eb')
      .stroke()
      .restore()
    w.y += w.text.lineHeight(link.size)
  }
  w.y += 6
}

function drawSection(w: PdfWriter, s: Section, images: ReportImage[]): void {
  if (s.kind === 'table') return drawTable(w, s)
  if (s.kind === 'charts') {
    if (!images.length) return
    w.heading(s.title, chartHeight(w) + 8)
    return drawCharts(w, images)
  }
  w.heading(s.title, 2 * w.text.lineHeight(BODY.size) + 4)
  drawComments(w, s.comments)
}

/** `qactivity · <name>` left and `page i of n` right, at the foot of every page. */
function drawFooters(w: PdfWriter, name: string): void {
  const range = w.doc.bufferedPageRange()
  const style: TextStyle = { size: 7.5, color: MUTED }
  for (let i = 0; i < range.count; i++) {
    w.doc.switchToPage(range.start + i)
    const y = w.doc.page.height - MARGIN + 14
    const right = `page ${i + 1} of ${range.count}`
    const rw = w.text.width(right, style) + 1
    w.text.draw(w.text.wrap(`qactivity · ${name}`, w.width - rw - 20, style, 1), w.left, y, w.width - rw - 20, style)
    w.text.draw(w.text.wrap(right, rw, style, 1), w.left + w.width - rw, y, rw, { ...style, align: 'right' })
  }
}

/**
 * A job's report as an A4 PDF. `images` are the chart PNGs of `renderReport` (IOPS, throughput),
 * drawn in that order; none leaves the charts out. Resolves to the whole file.
 */
export async function renderPdf(input: ReportInput, images: ReportImage[]): Promise<Buffer> {
  const content = reportContent(input)
  const [regular, bold] = fontFiles()
  const fallback = FALLBACK_FONTS.find((f) => existsSync(f))
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: true,
    font: regular, // never load pdfkit's default Helvetica: every glyph comes from an embedded font
    lang: 'en',
    displayTitle: true,
    info: {
      Title: content.name,
      Author: 'qactivity',
      Subject: `Job report ${content.id}`,
      Creator: 'qactivity',
      Producer: 'qactivity (PDFKit)',
      CreationDate: input.generatedAt,
      ModDate: input.generatedAt,
    },
  })
  const chunks: Buffer[] = []
  doc.on('data', (b: Buffer) => chunks.push(b))
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)
  })
  // The regular face is the document's default font, known by its path. Registering it again under
  // another name would make pdfkit re-open (parse) the file on every font switch: it finds the
  // equal font but never caches the new name.
  doc.registerFont('qa-bold', bold)
  if (fallback) doc.registerFont('qa-fallback', fallback)
  const w = new PdfWriter(doc, new TextSetter(doc, { regular, bold: 'qa-bold', fallback: fallback ? 'qa-fallback' : undefined }))
  drawHeader(w, content)
  for (const s of content.sections) drawSection(w, s, images)
  w.paragraph(content.footer, { size: 7.5, color: MUTED })
  drawFooters(w, content.name)
  doc.end()
  return done
}
