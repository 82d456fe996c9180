import type { z } from 'zod'

/** A zod issue path as written in messages: `entries[3].id`; `whole` when it is the value itself. */
export function issuePath(path: readonly PropertyKey[], whole = 'top level'): string {
  if (path.length === 0) return whole
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('')
}

/**
 * A validation failure as one line: `path: message` for the first `max` issues, then how many
 * more. (zod's own `z.prettifyError` writes several lines; errors here are one line.)
 */
export function issuesText(error: z.ZodError, o: { max?: number; whole?: string } = {}): string {
  const max = o.max ?? 1
  const shown = error.issues.slice(0, max).map((i) => `${issuePath(i.path, o.whole)}: ${i.message}`)
  const more = error.issues.length > max ? `; and ${error.issues.length - max} more` : ''
  return shown.join('; ') + more
}
