import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderCharts } from '../../../reports/chart.ts'
import type { ReportInput } from '../../../reports/model.ts'
import { FALLBACK_FONTS, renderPdf } from '../../../reports/pdf.ts'
import { HOSTILE, reportInput } from '../../support/report-input.ts'
import { tempDir } from '../../support/tmp.ts'

/** Runs a poppler tool; a missing one fails the test with the way to install it (never a skip). */
function poppler(tool: string, args: string[]): string {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${tool} not found: run scripts/ensure-system-deps.sh (Debian poppler-utils)`)
    throw err
  }
}

async function pdfFile(input: ReportInput): Promise<{ file: string; pdf: Buffer }> {
  const pdf = await renderPdf(input, renderCharts(input))
  const file = join(tempDir('qactivity-pdf-'), 'report.pdf')
  writeFileSync(file, pdf)
  return { file, pdf }
}

const text = (file: string) => poppler('pdftotext', ['-layout', file, '-'])
const pages = (file: string) => Number(/^Pages:\s+(\d+)$/m.exec(poppler('pdfinfo', [file]))![1])

/** The job's comments, 50 of them, one in five multi-line and non-Latin. */
const fiftyComments = Array.from({ length: 50 }, (_, i) => ({
  at: new Date(Date.parse('2026-11-23T10:00:00Z') + i * 60_000).toISOString(),
  author: i % 2 ? 'alice' : 'render-bot',
  text: `comment ${i}: ${'frames rendered, cache warm. '.repeat(1 + (i % 6))}${i % 5 ? '' : '\nsecond line Ελληνικά ✓'}`,
}))

describe('job report PDF', () => {
  it('carries the job name (non-Latin too), the totals and the comparison as text', async () => {
    const { file } = await pdfFile(
      reportInput({ name: 'render-sq010 渲染 ✓ Ελληνικά', grafanaUrl: 'https://grafana.example.com/d/job?var-job=sq010-run2' }),
    )
    const t = text(file)
    expect(existsSync(FALLBACK_FONTS[0]), 'CJK fallback font: install fonts-droid-fallback (scripts/ensure-system-deps.sh)').toBe(true)
    expect(t).toContain('render-sq010 渲染 ✓ Ελληνικά')
    for (const figure of ['1.80 M ops', '4.32 M ops', '838.2 GiB', '402.3 GiB', '238.4 MiB/s', '+45.0 GiB', '+12,345'])
      expect(t).toContain(figure)
    expect(t).toMatch(/IOPS read, total\s+1\.80 M ops\s+1\.50 M ops\s+\+300 k ops\s+\+20\.0 %/)
    expect(t).toContain('Compared with the previous run')
    // when the capacity readings were taken: wrapped at the arrow, leaving the path its room
    expect(t).toMatch(/2026-11-23 10:00:00Z → *\n[^\n]*11:00:01Z/)
    expect(t).toContain('Open the job dashboard in Grafana')
    expect(t.indexOf('frames 1-240')).toBeLessThan(t.indexOf('halfway: cache warm'))
  })

  it('is A4 with metadata dated generatedAt, embeds DejaVu Sans, links Grafana, and is reproducible', async () => {
    const input = reportInput({ grafanaUrl: 'https://grafana.example.com/d/job?var-job=sq010-run2' })
    const { file, pdf } = await pdfFile(input)
    const info = poppler('pdfinfo', ['-isodates', file])
    expect(info).toMatch(/^Title:\s+render-sq010$/m)
    expect(info).toMatch(/^Author:\s+qactivity$/m)
    expect(info).toMatch(/^CreationDate:\s+2026-11-23T11:05:00(Z|\+00)/m)
    expect(info).toMatch(/^Page size:\s+595\.28 x 841\.89 pts \(A4\)$/m)
    const fonts = poppler('pdffonts', [file]).split('\n').slice(2).filter(Boolean)
    expect(fonts.length).toBeGreaterThan(0)
    for (const f of fonts)
      expect(f, 'every font is embedded DejaVu (or the CJK fallback)').toMatch(
        /^\S+\+(DejaVuSans|DejaVuSans-Bold|DroidSansFallback)\s.*\byes\s+yes\s+yes\b/,
      )
    expect(fonts.some((f) => /\+DejaVuSans\s/.test(f))).toBe(true)
    expect(fonts.some((f) => /\+DejaVuSans-Bold\s/.test(f))).toBe(true)
    expect(pdf.toString('latin1')).toContain('/URI (https://grafana.example.com/d/job?var-job=sq010-run2)')
    expect((await renderPdf(input, renderCharts(input))).equals(pdf)).toBe(true)
  })

  it('renders its first page with pdftoppm', async () => {
    const { file } = await pdfFile(reportInput())
    const out = join(tempDir('qactivity-ppm-'), 'page')
    poppler('pdftoppm', ['-png', '-r', '50', '-f', '1', '-l', '1', '-singlefile', file, out])
    const png = readFileSync(`${out}.png`)
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
    expect(Math.abs(png.readUInt32BE(16) - (595.28 / 72) * 50)).toBeLessThan(1) // A4 width at 50 dpi
  })

  it('paginates 50 comments and 500 clients cleanly: every comment, the top 10 clients, a footer on each page', async () => {
    const { file } = await pdfFile(reportInput({ clients: 500, points: 1440, comments: fiftyComments }))
    const t = text(file)
    const n = pages(file)
    expect(n).toBeGreaterThanOrEqual(4)
    expect(n).toBeLessThanOrEqual(8)
    for (let i = 0; i < 50; i++) expect(t).toContain(`comment ${i}:`)
    expect(t).toMatch(/Clients +10\.60\.0\.1, /)
    expect(t).toContain('10.60.0.1, 10.60.0.2, 10.60.0.3, 10.60.0.4, 10.60.0.5 and 495 more')
    expect(t).toContain('10.60.0.10 ')
    // a day-long job's capacity reading times wrap at their arrow, leaving the numbers whole
    expect(t).toMatch(/\/render\/sq010 +\+45\.0 GiB +100\.0 GiB → +\+12,345 +\+67 +2026-11-23 10:00:00Z →/)
    expect(t).not.toContain('10.60.0.11')
    for (let p = 1; p <= n; p++) expect(t).toContain(`page ${p} of ${n}`)
    poppler('pdftoppm', ['-png', '-r', '20', file, join(tempDir('qactivity-ppm-'), 'p')]) // every page renders
  })

  it('keeps hostile strings as plain text and cuts a 4096-byte path instead of overflowing', async () => {
    const input = reportInput({ name: HOSTILE, comments: [{ at: '2026-11-23T10:10:00.000Z', author: HOSTILE, text: HOSTILE }] })
    input.stats.topPaths[0].path = '/' + 'very-long-directory-name/'.repeat(163)
    const { file } = await pdfFile(input)
    const t = text(file)
    expect(t).toContain("<script>alert(1)</script> \"><img src=x onerror=alert(2)> & 'q'")
    expect(t).toContain('…')
    expect(pages(file)).toBeLessThanOrEqual(4)
  })
})

describe('job report PDF page breaks', () => {
  /** A heading, a table's intro or its column header: never the last thing on a page. */
  const STARTS = [
    /^Activity$/,
    /^Compared with the previous run$/,
    /^Capacity growth$/,
    /^Top clients$/,
    /^Top paths$/,
    /^Comments \(\d+\)$/,
    /^Previous run: /,
    /^Capacity is read when/,
    /^Field +Total +Mean +Peak$/,
    /^This run +Previous +Δ +Δ %$/,
    /^Path +Used Δ/,
    /^(Client|Path) +Operations +Bytes$/,
    /^Δ % at or beyond/, // the legend's first line
  ]

  it('keeps every heading and table header with what follows it, and "Activity over time" with its charts', async () => {
    // a longer and longer previous-run ID (the comparison's intro wraps without limit) pushes the
    // comparison table, the charts and everything after them down line by line, across page ends
    for (let lines = 0; lines <= 36; lines++) {
      const input = reportInput({ grafanaUrl: 'https://grafana.example.com/d/x' })
      input.previous!.job.id = 'sq010-run1' + '-of-the-render-of-shot-010-'.repeat(lines * 4)
      const { file } = await pdfFile(input)
      const at = `an intro of about ${lines + 1} lines`
      const pageTexts = text(file).split('\f').slice(0, -1)
      pageTexts.forEach((page, i) => {
        const last =
          page
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l && !/^qactivity · .*page \d+ of \d+$/.test(l))
            .at(-1) ?? ''
        expect(
          STARTS.some((re) => re.test(last)),
          `${at}: page ${i + 1} ends with "${last}"`,
        ).toBe(false)
      })
      const chartsPage = pageTexts.findIndex((p) => /^\s*Activity over time$/m.test(p)) + 1
      const imagePages = poppler('pdfimages', ['-list', file])
        .split('\n')
        .slice(2)
        .filter(Boolean)
        .map((l) => Number(l.trim().split(/\s+/)[0]))
      expect(imagePages[0], `${at}: the first chart is on the page of its heading`).toBe(chartsPage)
    }
  }, 120_000)
})
