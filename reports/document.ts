import type { Job } from '../jobs/types.ts'
import { buildReport, type ReportSources } from './build.ts'
import { renderReport } from './html.ts'
import { renderPdf } from './pdf.ts'
import { renderCharts } from './chart.ts'

/** A job's report as a document to download: HTML with its charts inlined, or the PDF. */
export async function reportDocument(
  job: Job,
  src: ReportSources,
  format: 'html' | 'pdf',
): Promise<{ contentType: string; body: string | Buffer; filename: string }> {
  const input = await buildReport(job, src)
  if (format === 'html')
    return {
      contentType: 'text/html; charset=utf-8',
      body: renderReport(input, { images: 'inline' }).html,
      filename: `qactivity-${job.id}.html`,
    }
  return { contentType: 'application/pdf', body: await renderPdf(input, renderCharts(input)), filename: `qactivity-${job.id}.pdf` }
}
