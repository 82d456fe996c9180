import { FIELD_UNIT, type ActivityField } from './schema.ts'

/**
 * Human units shared by the CLI and the reports: pure functions of numbers (and ISO times).
 * Unparseable input is returned as given; callers escape it for their medium (terminal, HTML).
 */

/**
 * Said once above every stats/compare table, so no reader has to guess MB vs MiB. Bytes and byte rates
 * are binary everywhere (CLI, reports, Grafana's `bytes` and `binBps` units); counts of operations are decimal.
 */
export const UNITS_NOTE = 'ops, ops/s: k = 10³, M = 10⁶; bytes, bytes/s: KiB = 1024 B, MiB = 1024 KiB, GiB = 1024 MiB, TiB = 1024 GiB'

/** `2026-11-23T10:00:00.123Z` → `2026-11-23 10:00:00Z` (UTC, seconds); none → `-`, unparseable input as is. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-'
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  return new Date(t)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z')
}

/** Two times as `2026-11-23 10:00:00Z → 11:00:01Z` (the date once when it is the same); `-` for a missing one. */
export function formatSpan(from: string | null | undefined, to: string | null | undefined): string {
  const a = formatTime(from)
  const b = formatTime(to)
  if (a === '-' && b === '-') return '-'
  return a !== '-' && a.slice(0, 11) === b.slice(0, 11) ? `${a} → ${b.slice(11)}` : `${a} → ${b}`
}

/**
 * Milliseconds as `45s`, `12m 05s`, `3h 04m`, `2d 03h` (two units at most, the smaller one rounded to
 * the nearest: 11.96 s is `12s`, 59.6 s is `1m 00s`; negative or NaN → `0s`).
 */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) return '0s'
  const pad = (n: number) => String(n).padStart(2, '0')
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  const m = Math.round(ms / 60_000)
  if (m < 1440) return `${Math.floor(m / 60)}h ${pad(m % 60)}m`
  const h = Math.round(ms / 3_600_000)
  return `${Math.floor(h / 24)}d ${pad(h % 24)}h`
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']

/** A number (bytes, counts) as an exact integer; `undefined` for null, NaN and ±Infinity. */
function toBigInt(value: string | bigint | number | null | undefined): bigint | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value === 'bigint') return value
  if (typeof value === 'number') return Number.isFinite(value) ? BigInt(Math.round(value)) : undefined
  return BigInt(value) // throws on a non-integer string
}

/** The sign (`-`, `+` when `signed`, or none) and magnitude of an integer; `-` for no value, the input itself when it is not an integer. */
function signedParts(value: string | bigint | number | null | undefined, signed: boolean): { sign: string; abs: bigint } | string {
  let n: bigint | undefined
  try {
    n = toBigInt(value)
  } catch {
    return String(value)
  }
  if (n === undefined) return '-'
  return { sign: n < 0n ? '-' : signed && n > 0n ? '+' : '', abs: n < 0n ? -n : n }
}

/**
 * A byte count in binary units with one decimal: `1536` → `1.5 KiB`, `1023` → `1023 B`. Decimal
 * strings (Qumulo's) are exact beyond 2^53; numbers are rounded to whole bytes; null, NaN and ±Infinity
 * are `-`; a non-integer string is returned as is. `signed` prefixes `+` to positive values (deltas).
 */
export function formatBytes(value: string | bigint | number | null | undefined, signed = false): string {
  const p = signedParts(value, signed)
  if (typeof p === 'string') return p
  const { sign, abs } = p
  let unit = 0
  while (unit < UNITS.length - 1 && abs >= 1024n ** BigInt(unit + 1)) unit++
  if (unit === 0) return `${sign}${abs} B`
  // tenths, rounded half up, in integer arithmetic; 1023.96 KiB rounds up to the next unit
  let div = 1024n ** BigInt(unit)
  let tenths = (abs * 10n + div / 2n) / div
  if (tenths >= 10240n && unit < UNITS.length - 1) {
    unit++
    div *= 1024n
    tenths = (abs * 10n + div / 2n) / div
  }
  return `${sign}${tenths / 10n}.${tenths % 10n} ${UNITS[unit]}`
}

/**
 * An integer count with thousands separators (numbers are rounded; null/NaN → `-`; a non-integer
 * string as is); `signed` adds `+` to positive values.
 */
export function formatCount(value: string | bigint | number | null | undefined, signed = false): string {
  const p = signedParts(value, signed)
  if (typeof p === 'string') return p
  return p.sign + p.abs.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

const isNum = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n)

/**
 * `value` with three significant digits (two decimals below 1), e.g. `12.3`, `1.50`, `0.35`, `999`;
 * `trim` drops trailing zeros (`1.5`, `100`). Non-zero values that would round to 0 are `<0.01`.
 */
function threeDigits(abs: number, trim: boolean): string {
  if (abs === 0) return '0'
  if (abs < 0.005) return '<0.01'
  let d = abs >= 100 ? 0 : abs >= 10 ? 1 : 2
  let s = abs.toFixed(d)
  // 9.996 → "10.00" has four digits: one decimal fewer
  if (d > 0 && Number(s) >= 10 ** (3 - d)) s = abs.toFixed(--d)
  return trim && s.includes('.') ? s.replace(/\.?0+$/, '') : s
}

function withSign(n: number, text: string): string {
  if (n >= 0 || text === '0') return text
  return text.startsWith('<') ? `>-${text.slice(1)}` : `-${text}`
}

const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E']

/**
 * An operation count or rate with SI prefixes and three significant digits: `999 ops`,
 * `1.00 k ops`, `1.23 M ops`, `12.5 ops/s`. null, NaN and ±Infinity are `-`.
 */
export function formatOps(n: number | null | undefined, unit = 'ops'): string {
  if (!isNum(n)) return '-'
  let abs = Math.abs(n)
  let i = 0
  // promote when rounding to three digits reaches 1000 (999.6 → 1.00 k)
  while (i < SI.length - 1 && abs > 0 && Number(abs.toPrecision(3)) >= 1000) {
    abs /= 1000
    i++
  }
  const text = withSign(n, threeDigits(abs, i === 0))
  return i === 0 ? `${text} ${unit}` : `${text} ${SI[i]} ${unit}`
}

/**
 * A byte rate in the units of {@link formatBytes}: `512 B/s`, `12.3 MiB/s`; a rate that would show as 0 is `<1 B/s`;
 * null, NaN and ±Infinity are `-`.
 */
export function formatByteRate(bytesPerSecond: number | null | undefined): string {
  if (!isNum(bytesPerSecond)) return '-'
  if (bytesPerSecond !== 0 && Math.abs(bytesPerSecond) < 0.5) return `${bytesPerSecond < 0 ? '>-' : '<'}1 B/s`
  return `${formatBytes(bytesPerSecond)}/s`
}

/** A percentage change with one decimal and its sign: `+12.3 %`, `-5.0 %`, `0.0 %`; null (first job was 0) or NaN → `n/a`. */
export function formatPct(pct: number | null | undefined): string {
  if (!isNum(pct)) return 'n/a'
  const text = Math.abs(pct)
    .toFixed(1)
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  if (text === '0.0') return '0.0 %'
  return `${pct < 0 ? '-' : '+'}${text} %`
}

/** A share in percent with one decimal, `12.3 %`; `none` where there is none to tell (null, NaN). */
export function formatShare(pct: number | null | undefined, none = '–'): string {
  return isNum(pct) ? `${pct.toFixed(1)} %` : none
}

/** An aggregate of an activity field (docs/interface.md §6): `total` in ops or bytes, `mean`/`peak` in ops/s or bytes/s. */
export type AggregateKind = 'total' | 'mean' | 'peak'

/** One aggregate of an activity field in its unit: ops totals in ops, rates in ops/s; bytes and bytes/s binary. */
export function formatAggregate(field: ActivityField, kind: AggregateKind, value: number | null | undefined): string {
  const ops = FIELD_UNIT[field] === 'ops/s'
  if (kind === 'total') return ops ? formatOps(value) : formatBytes(value)
  return ops ? formatOps(value, 'ops/s') : formatByteRate(value)
}
