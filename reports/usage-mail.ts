import { ACTIVITY_FIELDS, bytesOf, opsOf } from '../lib/schema.ts'
import { formatBytes, formatCount, formatOps, formatShare, formatTime } from '../lib/units.ts'
import type { UsageAnswer } from '../stats/usage.ts'
import { escapeHtml } from './escape.ts'

/** One usage e-mail (QACTIVITY_USAGE_SCHEDULE): subject, HTML and text bodies, and the CSV of every group. */
export interface UsageMail {
  subject: string
  html: string
  text: string
  csv: string
}

const CSV_FIELDS = [
  'group',
  'jobs',
  ...ACTIVITY_FIELDS.map((f) => `${f}_total`),
  'used_bytes_delta',
  ...ACTIVITY_FIELDS.map((f) => `${f}_share_pct`),
]

/** A CSV cell: quoted when it holds a comma, a quote or a line break (RFC 4180), and never a formula to a spreadsheet. */
function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return ''
  let s = String(v)
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** The CSV: one row per group, raw numbers (operations, bytes, percent), a header line; CRLF line ends. */
export function usageCsv(u: UsageAnswer): string {
  const rows = u.rows.map((r) => [
    r.group,
    r.jobs,
    ...ACTIVITY_FIELDS.map((f) => r.total[f]),
    r.usedBytesDelta,
    ...ACTIVITY_FIELDS.map((f) => r.share?.[f] ?? null),
  ])
  return [CSV_FIELDS, ...rows].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n'
}

export function renderUsageMail(u: UsageAnswer, group: string, since: Date, until: Date): UsageMail {
  const window = `${formatTime(since.toISOString())} → ${formatTime(until.toISOString())}`
  const lines = u.rows.map((r) => [
    r.group,
    formatCount(r.jobs),
    formatOps(opsOf(r.total)),
    formatBytes(bytesOf(r.total)),
    formatBytes(r.usedBytesDelta, true),
    formatShare(r.share?.iops_read),
    formatShare(r.share?.throughput_write),
  ])
  const head = ['Group', 'Jobs', 'Operations', 'Bytes', 'Used growth', 'Reads of cluster', 'Bytes written of cluster']
  const intro = `${formatCount(u.jobs)} jobs completed ${window}, by ${group}. Every group and field is in the attached CSV.`
  const td = (s: string, right: boolean) => `<td style="padding:4px 8px;${right ? 'text-align:right;' : ''}">${escapeHtml(s)}</td>`
  const html = [
    '<!doctype html><html><body style="font-family:\'DejaVu Sans\',Verdana,sans-serif;font-size:13px">',
    `<h2>qactivity usage</h2><p>${escapeHtml(intro)}</p>`,
    '<table style="border-collapse:collapse">',
    `<tr>${head.map((h, i) => `<th style="padding:4px 8px;text-align:${i ? 'right' : 'left'}">${escapeHtml(h)}</th>`).join('')}</tr>`,
    ...lines.map((l) => `<tr>${l.map((c, i) => td(c, i > 0)).join('')}</tr>`),
    '</table></body></html>',
  ].join('\n')
  const text = [`qactivity usage`, '', intro, '', ...lines.map((l) => l.map((c, i) => `${head[i]}: ${c}`).join(', '))].join('\n') + '\n'
  return { subject: `qactivity usage ${window}`, html, text, csv: usageCsv(u) }
}
