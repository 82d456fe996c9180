import { createLogger, type Logger, type LogLevel } from '../../lib/log.ts'

/** A logger whose lines (one JSON object each) are kept in `lines` for a test to read. */
export function capturedLog(level: LogLevel = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = []
  return { lines, log: createLogger(level, {}, (line) => lines.push(line)) }
}
