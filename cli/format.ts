import type { Job, PathCapacity } from '../api/types.ts'

/**
 * Human output of `qactivity job show|list`: pure functions of the API's JSON (and `now`, for the
 * duration of running jobs). Everything a user sent is passed through {@link safe} so a job name or
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

/** `2026-11-23T10:00:00.123Z` → `2026-11-23 10:00:00Z` (UTC, seconds); unparseable input is shown as is. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-'
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return safe(iso)
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')
}

/** Milliseconds as `45s`, `12m 05s`, `3h 04m`, `2d 03h` (two units at most; negative → `0s`). */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const pad = (n: number) => String(n).padStart(2, '0')
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86400)}d ${pad(Math.floor(s / 3600) % 24)}h`
}

/** A job's duration: end − start, or now − start while it runs. */
export function jobDuration(job: Pick<Job, 'startedAt' | 'endedAt'>, now: number): string {
  const start = Date.parse(job.startedAt)
  const end = job.endedAt ? Date.parse(job.endedAt) : now
  if (Number.isNaN(start) || Number.isNaN(end)) return '-'
  return formatDuration(end - start)
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']

/**
 * A byte count (a decimal string from Qumulo, exact beyond 2^53) in binary units with one decimal:
 * `1536` → `1.5 KiB`. `signed` prefixes `+` to positive values (deltas).
 */
export function formatBytes(value: string | bigint, signed = false): string {
  let n: bigint
  try {
    n = typeof value === 'bigint' ? value : BigInt(value)
  } catch {
    return safe(String(value))
  }
  const sign = n < 0n ? '-' : signed && n > 0n ? '+' : ''
  const abs = n < 0n ? -n : n
  let unit = 0
  while (unit < UNITS.length - 1 && abs >= 1024n ** BigInt(unit + 1)) unit++
  if (unit === 0) return `${sign}${abs} B`
  // tenths, rounded half up, in integer arithmetic
  const div = 1024n ** BigInt(unit)
  const tenths = (abs * 10n + div / 2n) / div
  return `${sign}${tenths / 10n}.${tenths % 10n} ${UNITS[unit]}`
}

/** An integer count (decimal string) with thousands separators; `signed` adds `+` to positive values. */
export function formatCount(value: string | bigint, signed = false): string {
  let n: bigint
  try {
    n = typeof value === 'bigint' ? value : BigInt(value)
  } catch {
    return safe(String(value))
  }
  const sign = n < 0n ? '-' : signed && n > 0n ? '+' : ''
  const digits = (n < 0n ? -n : n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return sign + digits
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
      parts.push(`${formatBytes(c.start.usedBytes)}, ${counted(c.start.files, 'file')}, ${counted(c.start.directories, 'dir')} at attachment`)
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
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i] - [...cell].length))).join('  ').trimEnd())
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
