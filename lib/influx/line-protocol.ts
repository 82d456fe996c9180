/**
 * InfluxDB line protocol, written by hand: the official client's `Point.intField` parses strings with
 * `parseInt` (precision lost above 2^53) and its `uintField` emits `u`, which InfluxDB 1.x rejects.
 */

/** A field value: `number` is written as a float, `bigint` as an integer (`123i`, exact at any size). */
export type FieldValue = number | bigint | string | boolean

/** One point. `time` is epoch seconds (fractions down to the millisecond kept), written as milliseconds with `precision=ms`. */
export interface LinePoint {
  measurement: string
  /** Empty values are omitted (InfluxDB has no empty tag). */
  tags: Record<string, string>
  /** Non-finite floats are omitted; a point left without fields is an error. */
  fields: Record<string, FieldValue>
  /** Epoch seconds (an integer). */
  time: number
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

// Line protocol has no newline escape outside string fields: a raw CR/LF would end the line. We write
// them (and tabs) as the two visible characters `\n`, `\r`, `\t`, which InfluxDB stores literally,
// the same choice as the official client's escaper.
const CONTROL: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }
const escapeChar = (c: string) => CONTROL[c] ?? '\\' + c

const MEASUREMENT_SPECIAL = /[, \n\r\t]/
const MEASUREMENT_ALL = /[, \n\r\t]/g
const KEY_SPECIAL = /[,= \n\r\t]/
const KEY_ALL = /[,= \n\r\t]/g
const STRING_SPECIAL = /["\\\n\r]/
const STRING_ALL = /["\\\n\r]/g

// A trailing backslash escapes the separator after it and InfluxDB 1.x has no escape for it (a doubled `\\`
// fails too), so it is written followed by a visible `_`.
const guardTail = (s: string) => (s.endsWith('\\') ? s + '_' : s)

/** Escapes a measurement name: commas and spaces (control characters made visible). */
export function escapeMeasurement(s: string): string {
  return guardTail(MEASUREMENT_SPECIAL.test(s) ? s.replace(MEASUREMENT_ALL, escapeChar) : s)
}

/** Escapes a tag key, tag value or field key: commas, equals signs and spaces. */
export function escapeKey(s: string): string {
  return guardTail(KEY_SPECIAL.test(s) ? s.replace(KEY_ALL, escapeChar) : s)
}

/** Quotes a string field value: `"` and `\` escaped; CR/LF written as visible `\n`/`\r` so a point stays on one line. */
export function quoteFieldString(s: string): string {
  return STRING_SPECIAL.test(s) ? `"${s.replace(STRING_ALL, escapeChar)}"` : `"${s}"`
}

function formatField(key: string, v: FieldValue): string | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? String(v) : undefined
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`Field "${key}" is outside the int64 range: ${v}`)
      return `${v}i`
    case 'string':
      return quoteFieldString(v)
    case 'boolean':
      return v ? 'true' : 'false'
    default:
      throw new TypeError(`Field "${key}" has an unsupported type ${typeof v}`)
  }
}

/** Serialises one point (no trailing newline). Throws on a point without (finite) fields, an empty name or a bad time. */
export function toLine(p: LinePoint): string {
  if (!p.measurement) throw new Error('A point needs a measurement name')
  // A line starting with `#` is a comment to InfluxDB: the point would vanish silently.
  if (p.measurement.startsWith('#')) throw new Error(`Measurement "${p.measurement}" must not start with #`)
  const ms = Math.round(p.time * 1000)
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`Point "${p.measurement}" has a bad time: ${p.time}`)
  let line = escapeMeasurement(p.measurement)
  for (const k of Object.keys(p.tags).sort()) {
    const v = p.tags[k]
    if (!k) throw new Error(`Point "${p.measurement}" has an empty tag key`)
    if (v) line += ',' + escapeKey(k) + '=' + escapeKey(v)
  }
  let sep = ' '
  for (const k in p.fields) {
    const v = formatField(k, p.fields[k])
    if (v === undefined) continue
    if (!k) throw new Error(`Point "${p.measurement}" has an empty field name`)
    line += sep + escapeKey(k) + '=' + v
    sep = ','
  }
  if (sep === ' ') throw new Error(`Point "${p.measurement}" has no fields`)
  return line + ' ' + ms
}
