import type { LogFields, Logger } from '../lib/log.ts'

/**
 * Logs a repeating failure once per change of state instead of once per cycle: the first failure of a
 * key is logged with its error, repeats are only counted, and the first success after them logs one
 * "recovered" line carrying the count.
 */
export interface StateLog {
  /** Records a failure of `key`; logs only when the key was not already failing. Returns true then. */
  fail(key: string, msg: string, fields: LogFields, level?: 'warn' | 'error'): boolean
  /** Records a success of `key`; logs `msg` with the failed-cycle count when it was failing. Returns true then. */
  ok(key: string, msg: string, fields?: LogFields): boolean
}

export function createStateLog(log: Logger): StateLog {
  const failing = new Map<string, number>()
  return {
    fail(key, msg, fields, level = 'warn') {
      const count = failing.get(key) ?? 0
      failing.set(key, count + 1)
      if (count === 0) log[level](msg, fields)
      return count === 0
    },
    ok(key, msg, fields) {
      const count = failing.get(key)
      if (count === undefined) return false
      failing.delete(key)
      log.info(msg, { ...fields, failed_cycles: count })
      return true
    },
  }
}
