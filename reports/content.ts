import type { Job, JobComment, JobStatus } from '../jobs/types.ts'
import { ACTIVITY_FIELDS, FIELD_UNIT, type ActivityField } from '../lib/schema.ts'
import {
  formatAggregate,
  formatBytes,
  formatCount,
  formatDuration,
  formatByteRate,
  formatOps,
  formatPct,
  formatSpan,
  formatTime,
  UNITS_NOTE,
  type AggregateKind,
  formatShare,
} from '../lib/units.ts'
import type { JobStats } from '../stats/service.ts'
import { profileText } from '../stats/profile.ts'
import type { DigestInput, ReportInput } from './model.ts'
import { headerLine } from './escape.ts'

/**
 * What a report says, as plain strings in sections, before any markup: the HTML, the text and the
 * PDF renderers all draw this one model, so the three cannot drift apart. Nothing here is escaped;
 * each renderer escapes for its medium.
 */

/** A highlighted change: `up` = more than what it is compared with (more load, red), `down` = less (green). */
export type Tone = 'up' | 'down'

/** A table cell: its text and, for a change against the previous run, its highlight. */
export interface Cell {
  text: string
  tone?: Tone
}

/** A table column. */
export interface Column {
  label: string
  align: 'left' | 'right'
  /** the column that takes the remaining width and wraps (paths, names) */
  wide?: boolean
  /** a right-aligned column that may wrap at its spaces (`start → end` spans), so the wide column keeps room */
  wrap?: boolean
}

/** A titled table (activity, comparison, capacity, top clients/paths, the digest summary). */
export interface TableSection {
  kind: 'table'
  title: string
  /** a line above the table (e.g. which run it is compared with) */
  intro?: string
  columns: Column[]
  rows: Cell[][]
  /** set when cells carry tones: the threshold the legend states, percent */
  thresholdPct?: number
  /** a line under the table (e.g. why changes are marked as not like for like) */
  note?: string
}

/** Where the two charts go (their images are the renderer's). */
export interface ChartsSection {
  kind: 'charts'
  title: string
}

/** The job's comments: the fossil record. */
export interface CommentsSection {
  kind: 'comments'
  title: string
  /** oldest first */
  comments: JobComment[]
}

/** One part of a report, drawn in order. */
export type Section = TableSection | ChartsSection | CommentsSection

/** A job report's content. */
export interface ReportContent {
  name: string
  id: string
  status: JobStatus
  /** the status as shown once, in the badge: `running (figures so far)` while it runs */
  statusText: string
  /** label → value lines under the title (ID, window, duration, labels…) */
  facts: Array<[string, string]>
  /** only http(s) URLs survive */
  grafanaUrl?: string
  sections: Section[]
  /** generated-at and units line */
  footer: string
}

/** Human names of the activity fields. */
export const FIELD_LABELS: Record<ActivityField, string> = {
  iops_read: 'IOPS read',
  iops_write: 'IOPS write',
  metadata_iops_read: 'Metadata IOPS read',
  metadata_iops_write: 'Metadata IOPS write',
  throughput_read: 'Throughput read',
  throughput_write: 'Throughput write',
}

const OPS_FIELDS = ACTIVITY_FIELDS.filter((f) => FIELD_UNIT[f] === 'ops/s')
const BYTE_FIELDS = ACTIVITY_FIELDS.filter((f) => FIELD_UNIT[f] === 'bytes/s')
const KINDS: AggregateKind[] = ['total', 'mean', 'peak']
const KIND_LABELS: Record<AggregateKind, string> = { total: 'total', mean: 'per second', peak: 'peak' }

/** The legend of highlighted changes, in words (renderers colour "red" and "green"). */
export function legendText(thresholdPct: number): { before: string; red: string; middle: string; green: string; after: string } {
  return {
    before: `Δ % at or beyond ±${thresholdPct} % is highlighted: `,
    red: 'red',
    middle: ' = more than what it is compared with (more load on the cluster), ',
    green: 'green',
    after: ' = less.',
  }
}

/** Δ % of `abs` against the previous value: toned when |pct| ≥ threshold; an increase from 0 is `new` and toned up. */
export function deltaCell(abs: number, pct: number | null, thresholdPct: number): Cell {
  if (pct === null || !Number.isFinite(pct)) return abs > 0 ? { text: 'new', tone: 'up' } : { text: formatPct(null) }
  // judged on the value as shown (one decimal), so `+20.0 %` is highlighted at a 20 % threshold even when the float is 19.99999…
  const shown = Math.round(Math.abs(pct) * 10) / 10
  const tone: Tone | undefined = shown !== 0 && shown >= thresholdPct ? (pct > 0 ? 'up' : 'down') : undefined
  return tone ? { text: formatPct(pct), tone } : { text: formatPct(pct) }
}

const plus = (n: number, text: string) => (n > 0 && !text.startsWith('+') ? `+${text}` : text)

/** A signed difference of an aggregate in the field's unit. */
function formatDelta(field: ActivityField, kind: AggregateKind, abs: number): string {
  if (FIELD_UNIT[field] === 'bytes/s') return kind === 'total' ? formatBytes(abs, true) : plus(abs, formatByteRate(abs))
  return plus(abs, formatOps(abs, kind === 'total' ? 'ops' : 'ops/s'))
}

/** Sum of the ops totals and of the byte totals of a job's stats. */
export function totals(stats: Pick<JobStats, 'activity'>): { ops: number; bytes: number } {
  const sum = (fields: ActivityField[]) => fields.reduce((s, f) => s + (stats.activity[f]?.total ?? 0), 0)
  return { ops: sum(OPS_FIELDS), bytes: sum(BYTE_FIELDS) }
}

/** `(b − a) / a × 100`, null when a is 0 (as the API's deltas). */
export function pctChange(now: number, before: number): number | null {
  return before === 0 ? null : ((now - before) / before) * 100
}

/** The generated-at and units line. */
function footer(generatedAt: Date): string {
  return `Generated by qactivity at ${formatTime(generatedAt.toISOString())}. Units: ${UNITS_NOTE}.`
}

/** `a, b, c and 497 more`. */
function listed(items: string[], max: number): string {
  if (!items.length) return '—'
  const shown = items.slice(0, max).map((s) => headerLine(s, 300))
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ')
}

/** Comments oldest first; equal or unparseable times keep their stored order. */
export function sortedComments(comments: JobComment[]): JobComment[] {
  return comments
    .map((c, i) => ({ c, i, t: Date.parse(c.at) }))
    .sort((a, b) => (a.t === b.t || Number.isNaN(a.t) || Number.isNaN(b.t) ? a.i - b.i : a.t - b.t))
    .map((x) => x.c)
}

function facts(input: ReportInput): Array<[string, string]> {
  const { job, stats } = input
  const running = stats.live || job.status === 'running'
  const labels = Object.entries(job.labels ?? {}).map(([k, v]) => `${k}=${v}`)
  const out: Array<[string, string]> = [
    ['Job ID', job.id],
    ...(job.cluster ? [['Cluster', job.cluster] as [string, string]] : []),
    ['Started', formatTime(stats.window.start)],
    ['Ended', running ? 'running' : formatTime(stats.window.end)],
    ['Duration', formatDuration(stats.window.seconds * 1000) + (running ? ' so far' : '')],
    ['Labels', labels.length ? labels.join(', ') : '—'],
    ['Paths', listed(job.paths ?? [], 10)],
    ['Clients', listed(job.clients ?? [], 5)],
    ['Polls', `${formatCount(stats.polls)} (every ${stats.intervalSeconds} s)`],
    ...(stats.profile ? [['I/O profile', profileText(stats.profile)] as [string, string]] : []),
    ...(stats.tags ? [['Tags', stats.tags.length ? stats.tags.join(', ') : '—'] as [string, string]] : []),
  ]
  if (input.previous) {
    const p = input.previous.job
    out.push([
      'Previous run',
      `${p.id}, started ${formatTime(p.startedAt)} (${p.status})` +
        `${p.cluster && p.cluster !== job.cluster ? ` on cluster ${p.cluster}` : ''}`,
    ])
  }
  return out
}

function activityTable(stats: JobStats): TableSection {
  const share = stats.share
  const pct = (v: number | null | undefined) => ({ text: formatShare(v) })
  return {
    kind: 'table',
    title: 'Activity',
    columns: [
      { label: 'Field', align: 'left', wide: true },
      ...['Total', 'Mean', 'Peak', ...(share ? ['Of cluster', 'Peak of cluster'] : [])].map((label) => ({
        label,
        align: 'right' as const,
      })),
    ],
    rows: ACTIVITY_FIELDS.map((f) => [
      { text: FIELD_LABELS[f] },
      ...KINDS.map((k) => ({ text: formatAggregate(f, k, stats.activity[f]?.[k]) })),
      ...(share ? [pct(share[f]?.total), pct(share[f]?.peak)] : []),
    ]),
    ...(share
      ? {
          note:
            "Of cluster: the job's total as a share of the whole cluster's in its window; peak of cluster: " +
            `its highest share of one poll. Capacity growth: ${pct(share.used_bytes?.total).text} of the cluster's.`,
        }
      : {}),
  }
}

/** What differs between two runs' scopes (cluster, paths, clients), in words; empty when they watch the same things. */
export function scopeChanges(
  now: Pick<Job, 'cluster' | 'paths' | 'clients'>,
  before: Pick<Job, 'cluster' | 'paths' | 'clients'>,
): string[] {
  const out: string[] = []
  if ((now.cluster ?? '') !== (before.cluster ?? '')) out.push(`cluster ${before.cluster || '(any)'} → ${now.cluster || '(any)'}`)
  const diff = (what: string, a: string[] = [], b: string[] = []) => {
    const added = a.filter((x) => !b.includes(x))
    const removed = b.filter((x) => !a.includes(x))
    if (added.length) out.push(`${what} added: ${listed(added, 3)}`)
    if (removed.length) out.push(`${what} removed: ${listed(removed, 3)}`)
  }
  diff('paths', now.paths, before.paths)
  diff('clients', now.clients, before.clients)
  return out
}

/** The rows' marker of a change that is not like for like (explained under the table). */
export const SCOPE_MARK = '*'

function comparisonTable(input: ReportInput, compact: boolean): TableSection | undefined {
  const prev = input.previous
  if (!prev) return undefined
  const t = input.thresholdPct
  const seconds = input.stats.window.seconds
  const prevSeconds = prev.stats.window.seconds
  const scope = scopeChanges(input.job, prev.job)
  const longer = seconds === prevSeconds ? undefined : seconds > prevSeconds ? 'longer' : 'shorter'
  const durationDelta = formatDuration(Math.abs(seconds - prevSeconds) * 1000)
  const rows: Cell[][] = [
    [
      { text: 'Duration' },
      { text: formatDuration(seconds * 1000) },
      { text: formatDuration(prevSeconds * 1000) },
      { text: (longer ? (longer === 'shorter' ? '-' : '+') : '') + durationDelta },
      deltaCell(seconds - prevSeconds, pctChange(seconds, prevSeconds), t),
    ],
  ]
  // a total grows with a longer run and a wider scope; a rate (total ÷ window) only with the scope
  const marked = (kind: AggregateKind) => scope.length > 0 || (kind === 'total' && longer !== undefined)
  const kinds: AggregateKind[] = compact ? ['total', 'mean'] : ['total', 'mean', 'peak']
  for (const f of ACTIVITY_FIELDS) {
    for (const kind of kinds) {
      const d = prev.deltas[f]?.[kind] ?? { abs: NaN, pct: null }
      const delta = deltaCell(d.abs, d.pct, t)
      rows.push([
        { text: `${FIELD_LABELS[f]}, ${KIND_LABELS[kind]}` },
        { text: formatAggregate(f, kind, input.stats.activity[f]?.[kind]) },
        { text: formatAggregate(f, kind, prev.stats.activity[f]?.[kind]) },
        { text: Number.isFinite(d.abs) ? formatDelta(f, kind, d.abs) : '-' },
        marked(kind) && d.abs !== 0 ? { ...delta, text: `${delta.text} ${SCOPE_MARK}` } : delta,
      ])
    }
  }
  const notLike = [
    ...scope,
    ...(longer
      ? [`this run is ${durationDelta} ${longer}${scope.length ? '' : ' (totals only: per-second rates are total ÷ window)'}`]
      : []),
  ]
  return {
    kind: 'table',
    title: 'Compared with the previous run',
    intro: `Previous run: ${prev.job.id}, started ${formatTime(prev.job.startedAt)} (${prev.job.status}).`,
    columns: [
      { label: '', align: 'left', wide: true },
      ...['This run', 'Previous', 'Δ', 'Δ %'].map((label) => ({ label, align: 'right' as const })),
    ],
    rows,
    thresholdPct: t,
    note: notLike.length ? `${SCOPE_MARK} Not like for like: ${notLike.join('; ')}.` : undefined,
  }
}

/** The run against the median of its last runs (stats/regression.ts): the flags in words, then every field. */
function regressionTable(stats: JobStats, thresholdPct: number): TableSection | undefined {
  const r = stats.regression
  if (!r) return undefined
  const of = r.runs === 1 ? 'the last run' : `the median of the last ${r.runs} runs`
  const flagged = r.flags.map((f) => f.text)
  const rows = ACTIVITY_FIELDS.flatMap((f) =>
    (['total', 'mean'] as const).map((k) => {
      const value = stats.activity[f][k]
      const m = r.median[f][k]
      const pct = m > 0 ? (value / m - 1) * 100 : null
      return [
        { text: `${FIELD_LABELS[f]}, ${k === 'total' ? 'total' : 'per second'}` },
        { text: formatAggregate(f, k, value) },
        { text: formatAggregate(f, k, m) },
        deltaCell(value - m, pct, thresholdPct),
      ]
    }),
  )
  return {
    kind: 'table',
    title: `Against ${of}`,
    intro: flagged.length ? `${flagged.join('; ')}.` : `No total or per-second rate differs by ${thresholdPct} % or more from ${of}.`,
    columns: [
      { label: '', align: 'left', wide: true },
      ...['This run', r.runs === 1 ? 'Last run' : 'Median', 'Δ %'].map((label) => ({ label, align: 'right' as const })),
    ],
    rows,
    thresholdPct,
    note: `Runs: ${r.runIds.join(', ')} (same name and cluster, newest first).`,
  }
}

function capacityTable(stats: JobStats): TableSection | undefined {
  if (!stats.capacity?.length) return undefined
  return {
    kind: 'table',
    title: 'Capacity growth',
    intro:
      `Capacity is read when a path is attached and when the job is marked complete, not at a back-dated end time` +
      `${stats.live ? ' (running: the end reading is from now)' : ''}.`,
    columns: [
      { label: 'Path', align: 'left', wide: true },
      { label: 'Used Δ', align: 'right' },
      { label: 'Used (start → end)', align: 'right', wrap: true },
      { label: 'Files Δ', align: 'right' },
      { label: 'Dirs Δ', align: 'right' },
      { label: 'Read at (start → end)', align: 'right', wrap: true },
    ],
    rows: stats.capacity.map((c) => [
      { text: c.error ? `${c.path} (${headerLine(c.error, 200)})` : c.path },
      { text: formatBytes(c.usedBytes?.delta, true) },
      { text: `${formatBytes(c.usedBytes?.start)} → ${formatBytes(c.usedBytes?.end)}` },
      { text: formatCount(c.files?.delta, true) },
      { text: formatCount(c.directories?.delta, true) },
      { text: formatSpan(c.startAt, c.endAt) },
    ]),
  }
}

function shareTable(title: string, key: string, items: Array<{ name: string; ops: number; bytes: number }>): TableSection | undefined {
  if (!items.length) return undefined
  return {
    kind: 'table',
    title,
    columns: [
      { label: key, align: 'left', wide: true },
      { label: 'Operations', align: 'right' },
      { label: 'Bytes', align: 'right' },
    ],
    rows: items.map((x) => [{ text: x.name }, { text: formatOps(x.ops) }, { text: formatBytes(x.bytes) }]),
  }
}

/**
 * The content of one job's report; the comparison shows totals and peaks. `compact` (digests): no
 * charts, the comparison of totals only,
 * five top clients and paths instead of ten.
 */
export function reportContent(input: ReportInput, opts: { compact?: boolean } = {}): ReportContent {
  const { job, stats } = input
  const top = opts.compact ? 5 : 10
  const sections: Array<Section | undefined> = [
    activityTable(stats),
    comparisonTable(input, opts.compact ?? false),
    opts.compact ? undefined : regressionTable(stats, input.thresholdPct),
    opts.compact ? undefined : { kind: 'charts', title: 'Activity over time' },
    capacityTable(stats),
    shareTable(
      'Top clients',
      'Client',
      (stats.topClients ?? []).slice(0, top).map((c) => ({ name: c.client, ...c })),
    ),
    shareTable(
      'Top paths',
      'Path',
      (stats.topPaths ?? []).slice(0, top).map((p) => ({ name: p.path, ...p })),
    ),
    job.comments?.length
      ? { kind: 'comments', title: `Comments (${job.comments.length})`, comments: sortedComments(job.comments) }
      : undefined,
  ]
  return {
    name: job.name,
    id: job.id,
    status: job.status,
    statusText: stats.live || job.status === 'running' ? `${job.status} (figures so far)` : job.status,
    facts: facts(input),
    grafanaUrl: input.grafanaUrl && /^https?:\/\//i.test(input.grafanaUrl) ? input.grafanaUrl : undefined,
    sections: sections.filter((s): s is Section => s !== undefined),
    footer: footer(input.generatedAt),
  }
}

/** `(ops +12.0 %, bytes -3.1 % vs previous run)`, or '' without a previous run. */
function changeNote(input: ReportInput): string {
  if (!input.previous) return ''
  const now = totals(input.stats)
  const before = totals(input.previous.stats)
  const pct = (a: number, b: number) => deltaCell(a - b, pctChange(a, b), 0).text
  return ` (ops ${pct(now.ops, before.ops)}, bytes ${pct(now.bytes, before.bytes)} vs previous run)`
}

/** `qactivity: render-sq010 succeeded — 1.23 M ops, 45.0 GiB (ops +12.0 %, bytes -3.1 % vs previous run)`: one line, no CR/LF. */
export function reportSubject(input: ReportInput): string {
  const t = totals(input.stats)
  return headerLine(
    `qactivity: ${headerLine(input.job.name, 80)} ${input.job.status} — ${formatOps(t.ops)}, ${formatBytes(t.bytes)}${changeNote(input)}`,
    250,
  )
}

/** A digest's content: a summary table of its jobs (oldest first), then each job's compact content. */
export interface DigestContent {
  title: string
  intro: string
  summary: TableSection
  jobs: ReportContent[]
  grafanaUrl?: string
  footer: string
}

/** The content of a digest of several jobs. */
export function digestContent(input: DigestInput): DigestContent {
  const threshold = input.reports[0]?.thresholdPct ?? 20
  const rows = input.reports.map((r): Cell[] => {
    const now = totals(r.stats)
    const before = r.previous ? totals(r.previous.stats) : undefined
    const notLike =
      r.previous !== undefined &&
      (scopeChanges(r.job, r.previous.job).length > 0 || r.stats.window.seconds !== r.previous.stats.window.seconds)
    const delta = (a: number, b: number | undefined): Cell => {
      if (b === undefined) return { text: '—' }
      const cell = deltaCell(a - b, pctChange(a, b), r.thresholdPct)
      return notLike && a !== b ? { ...cell, text: `${cell.text} ${SCOPE_MARK}` } : cell
    }
    return [
      { text: `${r.job.name} (${r.job.id})` },
      { text: r.job.status },
      { text: formatTime(r.stats.window.start) },
      { text: formatDuration(r.stats.window.seconds * 1000) },
      { text: formatOps(now.ops) },
      { text: formatBytes(now.bytes) },
      delta(now.ops, before?.ops),
      delta(now.bytes, before?.bytes),
    ]
  })
  const span = `${formatTime(input.since.toISOString())} → ${formatTime(input.until.toISOString())}`
  return {
    title: `qactivity digest: ${input.reports.length} job${input.reports.length === 1 ? '' : 's'} completed`,
    intro: `Jobs completed ${span}. Δ % compares each job's totals with the previous run of the same job name.`,
    summary: {
      kind: 'table',
      title: 'Summary',
      columns: [
        { label: 'Job', align: 'left', wide: true },
        { label: 'Status', align: 'left' },
        { label: 'Started', align: 'left' },
        { label: 'Duration', align: 'right' },
        { label: 'Ops', align: 'right' },
        { label: 'Bytes', align: 'right' },
        { label: 'Ops Δ %', align: 'right' },
        { label: 'Bytes Δ %', align: 'right' },
      ],
      rows,
      thresholdPct: threshold,
      note: rows.some((r) => r.some((c) => c.text.endsWith(` ${SCOPE_MARK}`)))
        ? `${SCOPE_MARK} Not like for like: the run's length, cluster, paths or clients ` +
          `differ from its previous run's (its section below says how).`
        : undefined,
    },
    jobs: input.reports.map((r) => reportContent(r, { compact: true })),
    grafanaUrl: input.grafanaUrl && /^https?:\/\//i.test(input.grafanaUrl) ? input.grafanaUrl : undefined,
    footer: footer(input.generatedAt),
  }
}

/** `qactivity digest: 3 jobs completed 2026-11-23 00:00:00Z → 2026-11-24 00:00:00Z`: one line. */
export function digestSubject(input: DigestInput): string {
  const n = input.reports.length
  return headerLine(
    `qactivity digest: ${n} job${n === 1 ? '' : 's'} ` +
      `completed ${formatTime(input.since.toISOString())} → ${formatTime(input.until.toISOString())}`,
  )
}
