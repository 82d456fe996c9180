import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { renderReport } from '../../reports/html.ts'
import { renderPdf } from '../../reports/pdf.ts'
import { reportInput } from '../support/report-input.ts'
import { tempDir } from '../support/tmp.ts'

// The job report as a reader sees it: the HTML in a real browser (Debian's headless Chromium) and
// the PDF through poppler. A missing tool fails with the way to install it, never a skip.

/** Runs a Debian tool; ENOENT becomes an error naming scripts/ensure-system-deps.sh. */
function run(tool: string, args: string[], pkg: string): string {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${tool} not found: run scripts/ensure-system-deps.sh (Debian ${pkg})`)
    throw err
  }
}

/** Headless Chromium as root on a machine without network: no sandbox, no GPU, no background requests. */
const CHROMIUM = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run']

/** Width and height of a PNG from its IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const png = readFileSync(file)
  expect(png.toString('latin1', 1, 4)).toBe('PNG')
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

/** What a reader must find in either rendering of the default report. */
const EXPECTED = [
  'render-sq010',
  'sq010-run2',
  'succeeded',
  '1.80 M ops',
  '838.2 GiB',
  'Compared with the previous run',
  'IOPS read, per second',
  'Not like for like',
  'Activity over time',
  'Capacity growth',
  '/render/sq010',
  'Top clients',
  'halfway: cache warm',
  '10³',
]

/** pdftotext output with runs of spaces folded, so table columns read as words. */
const pdfText = (file: string) => run('pdftotext', ['-layout', file, '-'], 'poppler-utils').replace(/[ \t]+/g, ' ')

describe('job report rendered by real tools', () => {
  const input = reportInput({ grafanaUrl: 'https://grafana.example.com/d/qactivity-job?var-job=sq010-run2' })

  it('renders the HTML in headless Chromium with the expected text', () => {
    const dir = tempDir('qactivity-chromium-')
    const html = join(dir, 'report.html')
    writeFileSync(html, renderReport(input, { images: 'inline' }).html)
    const url = pathToFileURL(html).href
    const shot = join(dir, 'report.png')
    run('chromium', [...CHROMIUM, `--screenshot=${shot}`, '--window-size=700,2400', url], 'chromium')
    expect(pngSize(shot)).toEqual({ width: 700, height: 2400 })
    // Chromium's own layout, printed: the text as the browser set it, not our markup
    const printed = join(dir, 'printed.pdf')
    run('chromium', [...CHROMIUM, `--print-to-pdf=${printed}`, '--no-pdf-header-footer', url], 'chromium')
    const text = pdfText(printed)
    for (const s of EXPECTED) expect(text, s).toContain(s)
    expect(text).not.toContain('<')
  }, 120_000)

  it('renders every page of the PDF with pdftoppm, with the expected text', async () => {
    const dir = tempDir('qactivity-pdftoppm-')
    const pdf = join(dir, 'report.pdf')
    writeFileSync(pdf, await renderPdf(input, renderReport(input, { images: 'cid' }).images))
    const text = pdfText(pdf)
    for (const s of EXPECTED) expect(text, s).toContain(s)
    run('pdftoppm', ['-png', '-r', '40', pdf, join(dir, 'page')], 'poppler-utils')
    const pages = readdirSync(dir).filter((f) => /^page-\d+\.png$/.test(f))
    expect(pages.length).toBe(Number(/^Pages:\s+(\d+)$/m.exec(run('pdfinfo', [pdf], 'poppler-utils'))![1]))
    expect(pages.length).toBeGreaterThanOrEqual(2)
    for (const p of pages) expect(pngSize(join(dir, p)).width).toBe(Math.round((595.28 * 40) / 72))
  }, 60_000)
})
