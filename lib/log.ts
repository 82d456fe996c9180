import { redact } from './errors.ts'

/** Severity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** Structured key/values attached to a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>

/** A small structured logger passed into modules; `child()` adds fixed fields (e.g. `source`). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

function quote(v: unknown): string {
  const s = String(v)
  return /^[\w.:/@+-]+$/.test(s) ? s : JSON.stringify(s)
}

/**
 * logfmt lines on stderr (stdout belongs to command output such as a job ID), credentials redacted.
 * @param level - lowest level printed @defaultValue 'info'
 */
export function createLogger(
  level: LogLevel = 'info',
  base: LogFields = {},
  sink: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < ORDER[level]) return
    const all = { ...base, ...fields }
    const kv = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${quote(v)}`)
    sink(redact([`time=${new Date().toISOString()}`, `level=${lvl}`, `msg=${quote(msg)}`, ...kv].join(' ')))
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, sink),
  }
}

/** A logger that prints nothing (tests, benchmarks). */
export const silentLogger: Logger = createLogger('error', {}, () => {})

const MAX_LOGGED_CHARS = 200

/** Long text (a 4 KB path) as it goes into a log line or an error: the first 200 characters, then its size. */
export function clip(text: string): string {
  return text.length > MAX_LOGGED_CHARS ? `${text.slice(0, MAX_LOGGED_CHARS)}…(${Buffer.byteLength(text)} bytes)` : text
}
