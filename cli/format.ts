import type { Job, PathCapacity } from '../jobs/types.ts'
import { ACTIVITY_FIELDS, bytesOf, opsOf, type ActivityField } from '../lib/schema.ts'
import { TOP_N } from '../stats/compute.ts'
import { profileText, type IoProfile } from '../stats/profile.ts'
import * as units from '../lib/units.ts'
import { formatAggregate, formatDuration, formatOps, formatPct, formatSpan, UNITS_NOTE } from '../lib/units.ts'

export { formatAggregate, formatByteRate, formatDuration, formatOps, formatPct, UNITS_NOTE } from '../lib/units.ts'

/**
 * Human output of `qactivity job show|list|stats|compare`: pure functions of the API's JSON (and
 * `now`, for the duration of running jobs). Everything a user sent is passed through {@link safe} so a job name or
 * comment cannot inject terminal escape sequences.
 */

/**
 * Makes text from the API safe for a terminal: C0/C1 control characters (ESC included), DEL and
 * bidirectional overrides are shown as `\xNN` / `\u{NNNN}`; tabs become spaces. Newlines are kept
 * only when `keepNewlines` (multi-line comments).
 */
export function safe(text: string, keepNewlines = false): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\t') return ' '
    if (c === '\n' && keepNewlines) return '\n'
    const code = c.codePointAt(0)!
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })
}

// The unit formatters return unparseable input as given: pass it through safe() for the terminal.

/** {@link units.formatTime}, terminal-safe. */
export const formatTime = (iso: string | null | undefined): string => safe(units.formatTime(iso))

/** {@link units.formatBytes}, terminal-safe. */
export const formatBytes = (value: string | bigint | number | null | undefined, signed = false): string =>
  safe(units.formatBytes(value, signed))

/** {@link units.formatCount}, terminal-safe. */
export const formatCount = (value: string | bigint | number | null | undefined, signed = false): string =>
  safe(units.formatCount(value, signed))

/** A job's duration: end − start, or now − start while it runs. */
export function jobDuration(job: Pick<Job, 'startedAt' | 'endedAt'>, now: number): string {
  const start = Date.parse(job.startedAt)
  const end = job.endedAt ? Date.parse(job.endedAt) : now
  if (Number.isNaN(start) || Number.isNaN(end)) return '-'
  return formatDuration(end - start)
}

/** `+3 files`, `1 dir`: a count and its noun, singular for ±1. */
function counted(n: string | bigint, noun: string, signed = false): string {
  const text = formatCount(n, signed)
  return `${text} ${/^[+-]?1$/.test(text) ? noun : noun + 's'}`
}

function capacityLine(c: PathCapacity): string {
  const path = safe(c.path)
  const parts: string[] = []
  try {
    if (c.start && c.end) {
      const d = (k: 'usedBytes' | 'files' | 'directories') => BigInt(c.end![k]) - BigInt(c.start![k])
      parts.push(
        `${formatBytes(d('usedBytes'), true)} (${formatBytes(c.start.usedBytes)} → ${formatBytes(c.end.usedBytes)})`,
        counted(d('files'), 'file', true),
        counted(d('directories'), 'dir', true),
      )
    } else if (c.start) {
      parts.push(
        `${formatBytes(c.start.usedBytes)}, ${counted(c.start.files, 'file')}, ${counted(c.start.directories, 'dir')} at attachment`,
      )
    }
  } catch {
    parts.push('unreadable reading')
  }
  if (c.error) parts.push(`error: ${safe(c.error)}`)
  return [path, ...parts].join('  ')
}

function annotationLine(a: Job['annotation'] | undefined): string {
  if (!a) return '-'
  let s = a.state
  if (a.id !== undefined) s += ` #${a.id}`
  if (a.comments) s += `, ${a.comments} comment${a.comments === 1 ? '' : 's'}`
  if (a.lastError) s += ` (${safe(a.lastError)})`
  return s
}

/** Key/value rows; a key with several values takes one line per value, later ones under the first. */
function block(rows: Array<[string, string | string[]]>): string[] {
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  const out: string[] = []
  for (const [key, value] of rows) {
    const values = Array.isArray(value) ? (value.length ? value : ['-']) : [value]
    values.forEach((v, i) => out.push(`${(i === 0 ? key : '').padEnd(width)}${v}`.trimEnd()))
  }
  return out
}

/** Comments, oldest first (stable for equal times); continuation lines of a multi-line comment are indented. */
export function formatComments(comments: Job['comments']): string[] {
  const sorted = comments
    .map((c, i) => ({ c, i, t: Date.parse(c.at) }))
    .sort((a, b) => (a.t === b.t || Number.isNaN(a.t) || Number.isNaN(b.t) ? a.i - b.i : a.t - b.t))
    .map((x) => x.c)
  const authorWidth = Math.max(0, ...sorted.map((c) => safe(c.author).length))
  return sorted.flatMap((c) => {
    const head = `  ${formatTime(c.at)}  ${safe(c.author).padEnd(authorWidth)}  `
    const [first, ...rest] = safe(c.text, true).split('\n')
    return [(head + first).trimEnd(), ...rest.map((l) => (' '.repeat(head.length) + l).trimEnd())]
  })
}

/** `qactivity job show`: a compact key/value block, then the comments in time order. */
export function formatJob(job: Job, now: number): string {
  const labels = Object.entries(job.labels ?? {}).map(([k, v]) => `${safe(k)}=${safe(v)}`)
  const running = job.status === 'running'
  const lines = block([
    ['id', safe(job.id)],
    ['name', safe(job.name)],
    ...((job.cluster ? [['cluster', safe(job.cluster)]] : []) as Array<[string, string]>),
    ['status', safe(job.status)],
    ['started', formatTime(job.startedAt)],
    ['ended', formatTime(job.endedAt)],
    ['duration', jobDuration(job, now) + (running ? ' (running)' : '')],
    ['paths', (job.paths ?? []).map((p) => safe(p))],
    ['clients', (job.clients ?? []).map((c) => safe(c))],
    ['labels', labels.length ? labels.join(' ') : '-'],
    ...((job.notify?.length ? [['notify', job.notify.map((n) => safe(n)).join(' ')]] : []) as Array<[string, string]>),
    ...((job.capacity?.length ? [['capacity', job.capacity.map(capacityLine)]] : []) as Array<[string, string[]]>),
    ['annotation', annotationLine(job.annotation)],
    ['created by', safe(job.createdBy ?? '-')],
  ])
  const comments = job.comments ?? []
  if (comments.length) lines.push('', `comments (${comments.length})`, ...formatComments(comments))
  return lines.join('\n') + '\n'
}

/** `first +N` for a list, `-` when empty. */
function firstAndMore(items: string[] | undefined): string {
  if (!items?.length) return '-'
  return safe(items[0]) + (items.length > 1 ? ` +${items.length - 1}` : '')
}

function truncate(s: string, max: number): string {
  return [...s].length > max ? [...s].slice(0, max - 1).join('') + '…' : s
}

/** Left-aligned columns separated by two spaces, no trailing blanks. */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i] - [...cell].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

export const LIST_COLUMNS = ['ID', 'NAME', 'STATUS', 'STARTED', 'DURATION', 'PATHS', 'CLIENTS']

/** `qactivity job list`: an aligned table, one job per row, in the API's order (newest first). */
export function formatJobTable(jobs: Job[], now: number): string {
  const rows = jobs.map((j) => [
    safe(j.id),
    truncate(safe(j.name), 40),
    safe(j.status),
    formatTime(j.startedAt),
    jobDuration(j, now),
    firstAndMore(j.paths),
    firstAndMore(j.clients),
  ])
  return table([LIST_COLUMNS, ...rows]) + '\n'
}

// ---------------------------------------------------------------------------------------------
// `job stats` and `job compare` (docs/interface.md §6)
// ---------------------------------------------------------------------------------------------

/** start/end/delta of a capacity figure as the API sends it; null where a reading is missing. */
export interface GrowthView {
  start: number | null
  end: number | null
  delta: number | null
}

/** One activity field's aggregates: ops or bytes (`total`), ops/s or bytes/s (`mean`, `peak`). */
export interface FieldView {
  total: number
  mean: number
  peak: number
}

/**
 * The JSON of `GET /api/v1/jobs/{id}/stats` as the CLI reads it. Only what the human output uses;
 * everything is read defensively (a missing value prints `-`), since it comes over the network.
 */
export interface StatsView {
  job: string
  name: string
  /** the cluster whose points were counted; absent or "" when the job has none */
  cluster?: string
  status: string
  window: { start: string; end: string | null; seconds: number }
  activity: Partial<Record<ActivityField, FieldView>>
  capacity?: Array<{
    path: string
    startAt?: string | null
    endAt?: string | null
    usedBytes?: GrowthView
    files?: GrowthView
    directories?: GrowthView
    error?: string
  }>
  topClients?: Array<{ client: string; ops: number; bytes: number }>
  topPaths?: Array<{ path: string; ops: number; bytes: number }>
  /** true while the job runs (the window ends now) */
  live?: boolean
  /** poll times that contributed, and the poll interval in seconds */
  polls?: number
  intervalSeconds?: number
  previousRuns?: Array<{ id: string; startedAt: string; status: string }>
  /** a completed run against the median of its last runs: the changes flagged, in words */
  regression?: { runs: number; flags: Array<{ text: string }> }
  /** mean I/O sizes, metadata intensity, read/write mix; the automatic tags */
  profile?: IoProfile
  tags?: string[]
  /** the job's share of its cluster, percent (null: none to tell) */
  share?: Partial<Record<ActivityField, { total: number | null; peak: number | null }>> & { used_bytes?: { total: number | null } }
}

/** `12.3 %`, or `-` where there is no share to tell. */
const percent = (v: unknown) => units.formatShare(isNum(v) ? v : null, '-')

/** `abs` = later − first; `pct` = abs / first × 100, null when the first is 0. */
export interface DeltaView {
  abs: number
  pct: number | null
}

/** The JSON of `GET /api/v1/compare?jobs=…`. */
export interface ComparisonView {
  jobs: StatsView[]
  deltas: Array<{ job: string; activity: Partial<Record<ActivityField, Partial<Record<keyof FieldView, DeltaView>>>> }>
}

const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n)

/** `start → end (duration)`; a running job's end is `running`. */
export function formatWindow(s: Pick<StatsView, 'window' | 'status' | 'live'>): string {
  const w = s.window ?? ({} as StatsView['window'])
  const running = s.live === true || s.status === 'running'
  const duration = isNum(w.seconds) ? formatDuration(w.seconds * 1000) : '-'
  return `${formatTime(w.start)} → ${running ? 'running' : formatTime(w.end)}  (${duration}${running ? ' so far' : ''})`
}

/** A titled table, or nothing for no rows. */
function section(header: string[], rows: string[][]): string[] {
  return rows.length ? ['', table([header, ...rows])] : []
}

/** `qactivity job stats`: header block, then activity, capacity growth, the `top` clients and paths, previous runs. */
export function formatStats(s: StatsView, top = TOP_N): string {
  const polls = isNum(s.polls) ? `${s.polls}${isNum(s.intervalSeconds) ? ` (every ${s.intervalSeconds} s)` : ''}` : undefined
  const lines = block([
    ['job', `${safe(String(s.job))}  ${safe(String(s.name ?? ''))}`.trimEnd()],
    ...((s.cluster ? [['cluster', safe(String(s.cluster))]] : []) as Array<[string, string]>),
    ['status', safe(String(s.status))],
    ['window', formatWindow(s)],
    ...((polls !== undefined ? [['polls', polls]] : []) as Array<[string, string]>),
    ...((s.profile ? [['profile', safe(profileText(s.profile))]] : []) as Array<[string, string]>),
    ...((s.tags ? [['tags', s.tags.length ? safe(s.tags.join(', ')) : '-']] : []) as Array<[string, string]>),
    ['units', UNITS_NOTE],
  ])
  const activity = ACTIVITY_FIELDS.map((f) => {
    const a = s.activity?.[f]
    const row = [f, formatAggregate(f, 'total', a?.total), formatAggregate(f, 'mean', a?.mean), formatAggregate(f, 'peak', a?.peak)]
    return s.share ? [...row, percent(s.share[f]?.total), percent(s.share[f]?.peak)] : row
  })
  const shareHeader = s.share ? ['OF CLUSTER', 'PEAK OF CLUSTER'] : []
  lines.push(...section(['ACTIVITY', 'TOTAL', 'MEAN', 'PEAK', ...shareHeader], activity))
  if (s.share) lines.push('', `capacity growth: ${percent(s.share.used_bytes?.total)} of the cluster's`)
  if (s.regression) {
    const of = s.regression.runs === 1 ? 'the last run' : `the median of the last ${s.regression.runs} runs`
    const flags = (s.regression.flags ?? []).map((f) => safe(String(f.text)))
    lines.push('', flags.length ? `against ${of}: ${flags.join('; ')}` : `against ${of}: no change flagged`)
  }
  const capacity = (s.capacity ?? []).map((c) => [
    safe(String(c.path)),
    formatBytes(c.usedBytes?.delta, true),
    formatCount(c.files?.delta, true),
    formatCount(c.directories?.delta, true),
    safe(formatSpan(c.startAt, c.endAt)),
    c.error ? `error: ${safe(String(c.error))}` : '',
  ])
  lines.push(...section(['CAPACITY GROWTH', 'USED', 'FILES', 'DIRECTORIES', 'READ AT (START → END)', ''], capacity))
  const share = (key: string, x: { ops: number; bytes: number }) => [safe(String(key)), formatOps(x.ops), formatBytes(x.bytes)]
  lines.push(
    ...section(
      ['TOP CLIENTS', 'OPS', 'BYTES'],
      (s.topClients ?? []).slice(0, top).map((c) => share(c.client, c)),
    ),
  )
  lines.push(
    ...section(
      ['TOP PATHS', 'OPS', 'BYTES'],
      (s.topPaths ?? []).slice(0, top).map((p) => share(p.path, p)),
    ),
  )
  const runs = (s.previousRuns ?? []).map((r) => [safe(String(r.id)), formatTime(r.startedAt), safe(String(r.status))])
  lines.push(...section(['PREVIOUS RUNS', 'STARTED', 'STATUS'], runs))
  return lines.join('\n') + '\n'
}

/**
 * `qactivity job compare`: one column per job (the first is the baseline), one row per activity
 * total; later jobs show their change against the first as `+12.3 %` (`n/a` when the first is 0).
 */
export function formatComparison(c: ComparisonView): string {
  const jobs = c.jobs ?? []
  const deltas = c.deltas ?? []
  // deltas[i - 1] belongs to jobs[i]; fall back to a lookup by ID should the API reorder them
  const deltaOf = (i: number) => (deltas[i - 1]?.job === jobs[i].job ? deltas[i - 1] : deltas.find((d) => d.job === jobs[i].job))
  const rows: string[][] = [
    ['JOB', ...jobs.map((j, i) => safe(String(j.job)) + (i === 0 ? ' (baseline)' : ''))],
    ['name', ...jobs.map((j) => truncate(safe(String(j.name ?? '')), 30))],
    ['started', ...jobs.map((j) => formatTime(j.window?.start))],
    ['status', ...jobs.map((j) => safe(String(j.status)))],
    [
      'duration',
      ...jobs.map(
        (j) =>
          (isNum(j.window?.seconds) ? formatDuration(j.window.seconds * 1000) : '-') +
          (j.live === true || j.status === 'running' ? ' so far' : ''),
      ),
    ],
  ]
  for (const f of ACTIVITY_FIELDS) {
    rows.push([
      `${f} total`,
      ...jobs.map((j, i) => {
        const value = formatAggregate(f, 'total', j.activity?.[f]?.total)
        return i === 0 ? value : `${value} (${formatPct(deltaOf(i)?.activity?.[f]?.total?.pct)})`
      }),
    ])
  }
  return (
    [
      `units  ${UNITS_NOTE}`,
      `delta  change of each job's total against the first job (${safe(String(jobs[0]?.job ?? '-'))})`,
      '',
      table(rows),
    ].join('\n') + '\n'
  )
}

/** The JSON of `GET /api/v1/usage`. */
export interface UsageView {
  group: string
  since: string
  until: string
  jobs: number
  pending: number
  rows: Array<{
    group: string
    jobs: number
    total: Partial<Record<ActivityField, number>>
    usedBytesDelta: number
    share?: Partial<Record<ActivityField, number | null>>
  }>
}

/** `qactivity usage`: one row per group, its totals and its share of the cluster's. */
export function formatUsage(u: UsageView): string {
  const rows = (u.rows ?? []).map((r) => [
    safe(String(r.group)),
    formatCount(r.jobs),
    formatOps(opsOf(r.total ?? {})),
    formatBytes(bytesOf(r.total ?? {})),
    formatBytes(r.usedBytesDelta, true),
    ...(['iops_read', 'iops_write', 'throughput_read', 'throughput_write'] as const).map((f) => percent(r.share?.[f])),
  ])
  const head = `${safe(String(u.group))}: ${formatCount(u.jobs)} jobs ended ${formatTime(u.since)} → ${formatTime(u.until)}`
  const lines = [head + (u.pending ? ` (${formatCount(u.pending)} not summarised yet, not counted)` : '')]
  if (rows.length)
    lines.push(
      '',
      table([['GROUP', 'JOBS', 'OPS', 'BYTES', 'USED', 'READS %', 'WRITES %', 'READ BYTES %', 'WRITTEN %'], ...rows]),
      '',
      "% : of the cluster's in the range",
    )
  return lines.join('\n') + '\n'
}
