import type { JobStatus } from '../jobs/types.ts'
import { formatTime } from '../lib/units.ts'
import type { DigestInput, RenderedReport, ReportImage, ReportInput } from './model.ts'
import { renderCharts } from './chart.ts'
import {
  digestContent,
  digestSubject,
  legendText,
  reportContent,
  reportSubject,
  type Cell,
  type Column,
  type ReportContent,
  type Section,
  type TableSection,
  type Tone,
} from './content.ts'
import { escapeHtml as e } from './escape.ts'
import { digestText, reportText } from './text.ts'

/**
 * The report as e-mail HTML: tables for layout, inline styles only (no `<style>`, which several
 * mail clients strip), no scripts, no external resources; the only URL is the Grafana link. Every
 * string goes through {@link e} (escapeHtml), attributes included.
 */

/** How the charts are referenced: `cid:` attachments (e-mail) or `data:` URIs (a browser, the API). */
export interface RenderOptions {
  images: 'cid' | 'inline'
}

// the charts are drawn in DejaVu Sans; Verdana (shipped by Windows and macOS) is its close kin where DejaVu is missing
const FONT = "font-family:'DejaVu Sans',Verdana,Geneva,sans-serif;"
const S = {
  body: 'margin:0;padding:0;background-color:#f3f4f6;',
  card:
    `width:640px;max-width:640px;background-color:#ffffff;border:1px solid #e5e7eb;` +
    `${FONT}font-size:14px;line-height:20px;color:#1f2937;`,
  h1: `margin:0;${FONT}font-size:22px;line-height:28px;font-weight:bold;color:#111827;overflow-wrap:anywhere;word-break:break-word;`,
  h2: `margin:0 0 8px 0;${FONT}font-size:16px;line-height:22px;font-weight:bold;color:#111827;`,
  table: 'width:100%;border-collapse:collapse;',
  th:
    `padding:6px 8px;background-color:#f3f4f6;border-bottom:1px solid #d1d5db;` +
    `${FONT}font-size:12px;line-height:16px;font-weight:bold;color:#374151;`,
  td: `padding:5px 8px;border-bottom:1px solid #e5e7eb;${FONT}font-size:13px;line-height:18px;color:#1f2937;`,
  factKey: `padding:2px 12px 2px 0;${FONT}font-size:13px;line-height:18px;color:#6b7280;white-space:nowrap;vertical-align:top;`,
  factValue: `padding:2px 0;${FONT}font-size:13px;line-height:18px;color:#1f2937;overflow-wrap:anywhere;word-break:break-word;`,
  small: `margin:6px 0 0 0;${FONT}font-size:12px;line-height:16px;color:#4b5563;`,
  button:
    `display:inline-block;padding:8px 14px;background-color:#2563eb;color:#ffffff;text-decoration:none;border-radius:4px;` +
    `${FONT}font-size:14px;font-weight:bold;`,
  img: 'display:block;width:100%;max-width:592px;height:auto;border:0;margin:0 0 8px 0;',
} as const

/** Inline styles of highlighted cells: red for more load than the previous run, green for less. */
export const TONE_STYLE: Record<Tone, string> = {
  up: 'background-color:#fde2e1;color:#b42318;font-weight:bold;',
  down: 'background-color:#dcfce7;color:#166534;font-weight:bold;',
}

const STATUS_STYLE: Record<JobStatus, string> = {
  succeeded: 'background-color:#dcfce7;color:#166534;',
  failed: 'background-color:#fde2e1;color:#b42318;',
  running: 'background-color:#dbeafe;color:#1d4ed8;',
  cancelled: 'background-color:#f3f4f6;color:#4b5563;',
}

function badge(status: JobStatus, text: string): string {
  const style = STATUS_STYLE[status] ?? STATUS_STYLE.running
  return (
    `<span style="${style}display:inline-block;padding:1px 8px;border-radius:10px;` +
    `${FONT}font-size:12px;line-height:18px;font-weight:bold;">${e(text)}</span>`
  )
}

function cellHtml(cell: Cell, col: Column): string {
  const align = col.align === 'right' ? `text-align:right;${col.wrap ? '' : 'white-space:nowrap;'}` : 'text-align:left;'
  // a path may break anywhere, but never below about 16 characters (else the numbers squeeze it to a letter per line)
  const wrap = col.wide ? 'min-width:128px;overflow-wrap:anywhere;word-break:break-word;' : ''
  const tone = cell.tone ? `${TONE_STYLE[cell.tone]}` : ''
  const mark = cell.tone ? ` data-tone="${cell.tone}"` : ''
  return `<td align="${col.align}" style="${S.td}${align}${wrap}${tone}"${mark}>${e(cell.text)}</td>`
}

function legendHtml(thresholdPct: number): string {
  const l = legendText(thresholdPct)
  const swatch = (tone: Tone, text: string) => `<span style="${TONE_STYLE[tone]}padding:0 4px;">${e(text)}</span>`
  return `<p style="${S.small}">${e(l.before)}${swatch('up', l.red)}${e(l.middle)}${swatch('down', l.green)}${e(l.after)}</p>`
}

function tableHtml(t: TableSection): string {
  const head = t.columns.map((c) => `<th align="${c.align}" style="${S.th}text-align:${c.align};">${e(c.label)}</th>`).join('')
  const rows = t.rows.map((r) => `<tr>${r.map((cell, i) => cellHtml(cell, t.columns[i])).join('')}</tr>`).join('\n')
  const intro = t.intro ? `<p style="${S.small}margin:0 0 6px 0;">${e(t.intro)}</p>` : ''
  const legend = t.thresholdPct !== undefined ? legendHtml(t.thresholdPct) : ''
  const note = t.note ? `<p style="${S.small}">${e(t.note)}</p>` : ''
  return (
    `${intro}<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="${S.table}">` +
    `<tr>${head}</tr>\n${rows}</table>${note}${legend}`
  )
}

function commentsHtml(comments: ReportInput['job']['comments']): string {
  const rows = comments.map((c) => {
    const text = e(c.text.replace(/\r\n?/g, '\n')).replace(/\n/g, '<br>')
    const author = `<span style="font-weight:bold;color:#111827;">${e(c.author)}</span>`
    const head = `${author} <span style="color:#6b7280;">${e(formatTime(c.at))}</span>`
    return (
      `<tr><td style="${S.td}overflow-wrap:anywhere;word-break:break-word;">` +
      `<div style="${FONT}font-size:12px;line-height:16px;">${head}</div><div>${text}</div></td></tr>`
    )
  })
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="${S.table}">${rows.join('\n')}</table>`
}

function chartsHtml(images: ReportImage[], mode: RenderOptions['images']): string {
  return images
    .map((img) => {
      const src = mode === 'cid' ? `cid:${img.cid}` : `data:${img.contentType};base64,${img.content.toString('base64')}`
      const alt = img.filename.replace(/\.png$/, '') + ' chart'
      return `<img src="${e(src)}" width="592" alt="${e(alt)}" style="${S.img}">`
    })
    .join('\n')
}

function sectionHtml(s: Section, images: ReportImage[], mode: RenderOptions['images']): string {
  const body = s.kind === 'table' ? tableHtml(s) : s.kind === 'charts' ? chartsHtml(images, mode) : commentsHtml(s.comments)
  return `<tr><td style="padding:8px 24px 16px 24px;"><h2 style="${S.h2}">${e(s.title)}</h2>${body}</td></tr>`
}

function grafanaHtml(url: string | undefined, label: string): string {
  return url ? `<tr><td style="padding:0 24px 16px 24px;"><a href="${e(url)}" style="${S.button}">${e(label)}</a></td></tr>` : ''
}

function jobHeaderHtml(c: ReportContent, level: 'h1' | 'h2'): string {
  const facts = c.facts.map(([k, v]) => `<tr><td style="${S.factKey}">${e(k)}</td><td style="${S.factValue}">${e(v)}</td></tr>`).join('\n')
  const title = `<${level} style="${level === 'h1' ? S.h1 : S.h2}">${e(c.name)}</${level}>`
  return (
    `<tr><td style="padding:20px 24px 12px 24px;">${title}<div style="margin:6px 0 10px 0;">${badge(c.status, c.statusText)}</div>` +
    `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;">${facts}</table></td></tr>`
  )
}

function page(title: string, rows: string[], footer: string): string {
  return [
    '<!DOCTYPE html>',
    `<html lang="en"><head><meta charset="utf-8">` +
      `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${e(title)}</title></head>`,
    `<body style="${S.body}">`,
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="${S.body}">` +
      `<tr><td align="center" style="padding:16px 8px;">`,
    `<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0" style="${S.card}">`,
    ...rows,
    `<tr><td style="padding:8px 24px 20px 24px;"><p style="${S.small}">${e(footer)}</p></td></tr>`,
    '</table></td></tr></table></body></html>',
  ].join('\n')
}

/**
 * A job's report: subject, HTML, plain text, and the two chart PNGs (returned in both modes, so the
 * caller can hand them to `renderPdf` without rendering them twice).
 */
export function renderReport(input: ReportInput, opts: RenderOptions): RenderedReport {
  const content = reportContent(input)
  const images = renderCharts(input)
  const rows = [
    jobHeaderHtml(content, 'h1'),
    grafanaHtml(content.grafanaUrl, 'Open the job dashboard in Grafana'),
    ...content.sections.map((s) => sectionHtml(s, images, opts.images)),
  ]
  return {
    subject: reportSubject(input),
    html: page(`qactivity: ${content.name}`, rows, content.footer),
    text: reportText(content),
    images,
  }
}

/** A digest of several completed jobs: a summary table, then each job compactly (no charts, so no images). */
export function renderDigest(input: DigestInput, opts: RenderOptions): RenderedReport {
  const d = digestContent(input)
  const rows = [
    `<tr><td style="padding:20px 24px 8px 24px;"><h1 style="${S.h1}">${e(d.title)}</h1><p style="${S.small}">${e(d.intro)}</p></td></tr>`,
    grafanaHtml(d.grafanaUrl, 'Open Grafana'),
    sectionHtml(d.summary, [], opts.images),
    ...d.jobs.flatMap((job) => [
      `<tr><td style="padding:0 24px;">` +
        `<div style="border-top:2px solid #e5e7eb;height:0;line-height:0;font-size:0;">&nbsp;</div></td></tr>`,
      jobHeaderHtml(job, 'h2'),
      grafanaHtml(job.grafanaUrl, 'Open in Grafana'),
      ...job.sections.map((s) => sectionHtml(s, [], opts.images)),
    ]),
  ]
  return { subject: digestSubject(input), html: page(d.title, rows, d.footer), text: digestText(d), images: [] }
}
