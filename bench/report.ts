// `npm run bench:report`: job report generation (issue #6 item 4): HTML with its two charts, and the
// PDF, for a day-long job (1,440 polls at 60 s) with 500 clients (the stats keep the top 10) and 50
// comments, median of 10 after one cold run. Writes the first PDF page to docs/report.png for the
// README (`pdftoppm`, Debian poppler-utils).
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { renderCharts } from '../reports/chart.ts'
import { buildReport, type ReportSources } from '../reports/build.ts'
import { StatsService } from '../stats/service.ts'
import { TIMELINE_POINTS } from '../stats/compute.ts'
import type { ActivitySource } from '../stats/model.ts'
import { renderReport } from '../reports/html.ts'
import { renderPdf } from '../reports/pdf.ts'
import { reportInput } from '../test/support/report-input.ts'
import { tempDir } from '../test/support/tmp.ts'
import { printTable, row } from './table.ts'

const RUNS = 10
const GOAL_MS = 3000

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')} ms`
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`

const comments = Array.from({ length: 50 }, (_, i) => ({
  at: new Date(Date.parse('2026-11-23T10:00:00Z') + i * 1_700_000).toISOString(),
  author: ['alice', 'bob', 'render-bot'][i % 3],
  text:
    `Checkpoint ${i + 1}: ${'frames rendered, cache warm, queue steady. '.repeat(1 + (i % 5))}` +
    `${i % 7 ? '' : '\nNote: 渲染 ✓ Ελληνικά'}`,
}))
const input = reportInput({
  clients: 500,
  points: 1440,
  comments,
  grafanaUrl: 'https://grafana.example.com/d/qactivity-job?var-job=sq010-run2',
})

async function once(): Promise<{ charts: number; html: number; pdf: number; total: number; out: { html: string; pdf: Buffer } }> {
  const t0 = performance.now()
  const report = renderReport(input, { images: 'cid' }) // renders the charts itself
  const t1 = performance.now()
  const pdf = await renderPdf(input, report.images)
  const t2 = performance.now()
  renderCharts(input) // the charts alone, to show their share of the HTML figure
  const t3 = performance.now()
  return { html: t1 - t0, pdf: t2 - t1, charts: t3 - t2, total: t2 - t0, out: { html: report.html, pdf } }
}

const cold = await once()
const runs: Array<Awaited<ReturnType<typeof once>>> = []
for (let i = 0; i < RUNS; i++) runs.push(await once())
const total = median(runs.map((r) => r.total))

// End to end as the API makes it for a completed job: the input assembled from the job's summary
// (stats and the stored 240-point series; the previous run's summary for the comparison), then
// rendered. Any query of raw points would be counted.
// The stored series (`qactivity_job_timeline`, ≤ 240 points) is one small query: served here from memory.
let queries = 0
const stored = input.timeline.slice(-TIMELINE_POINTS)
const counting: ActivitySource = {
  rows: async () => (queries++, []),
  count: async () => (queries++, 0),
  clientValues: async () => (queries++, []),
  timeline: async () => stored,
}
const summarised = (j: typeof input.job, stats: typeof input.stats): typeof input.job => ({
  ...j,
  summary: { state: 'done', computedAt: j.endedAt!, stats: { ...stats, previousRuns: undefined } as unknown as Record<string, unknown> },
})
const current = summarised(input.job, input.stats)
const previous = summarised(input.previous!.job, input.previous!.stats)
const sources: ReportSources = {
  stats: new StatsService({
    source: counting,
    intervalSeconds: 60,
    previousRuns: (_name, _before, id) => (id === current.id ? [previous] : []),
  }),
  previousRuns: (_name, _before, id) => (id === current.id ? [previous] : []),
  grafanaUrl: 'https://grafana.example.com',
  flavour: 'influxql',
  thresholdPct: 20,
}
const e2e: number[] = []
for (let i = 0; i < RUNS; i++) {
  const t = performance.now()
  const built = await buildReport(current, sources)
  const r = renderReport(built, { images: 'cid' })
  await renderPdf(built, r.images)
  e2e.push(performance.now() - t)
}

const dir = tempDir('qactivity-bench-report-')
const pdfFile = join(dir, 'report.pdf')
writeFileSync(pdfFile, cold.out.pdf)
const pages = /^Pages:\s+(\d+)$/m.exec(execFileSync('pdfinfo', [pdfFile], { encoding: 'utf8' }))?.[1] ?? '?'
const preview = resolve('docs/report')
execFileSync('pdftoppm', ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', pdfFile, preview])

row(
  `report (HTML + 2 charts + PDF), 1,440 polls, 500 clients, 50 comments (median of ${RUNS})`,
  ms(total),
  `< ${GOAL_MS / 1000} s`,
  total < GOAL_MS,
)
row('  HTML, text and the two chart PNGs', ms(median(runs.map((r) => r.html))), '—', undefined)
row('  the two charts alone (SVG → PNG with resvg), most of the line above', ms(median(runs.map((r) => r.charts))), '—', undefined)
row('  PDF (pdfkit, fonts embedded)', ms(median(runs.map((r) => r.pdf))), '—', undefined)
row(
  `  end to end for a completed job: input from its summary and stored series, HTML + charts + PDF (median of ${RUNS}); ` +
    `raw-point queries: ${queries}`,
  ms(median(e2e)),
  `< ${GOAL_MS / 1000} s`,
  median(e2e) < GOAL_MS && queries === 0,
)
row('first report in a fresh process (fonts and modules cold)', ms(cold.total), '—', undefined)
row('output', `HTML ${kib(Buffer.byteLength(cold.out.html))}, PDF ${kib(cold.out.pdf.length)} (${pages} pages)`, '—', undefined)
printTable()
console.log(`\nFirst page written to ${preview}.png`)
