import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'

/** A panel as it appears in the generated JSON (the parts the tests read). */
export interface PanelJson {
  id: number
  type: string
  title: string
  description?: string
  datasource?: { type?: string; uid?: string }
  targets?: Array<{ refId?: string; datasource?: { type?: string; uid?: string }; query: string; resultFormat?: string }>
  fieldConfig?: {
    defaults?: { unit?: string; links?: Array<{ url: string }> }
    overrides?: Array<{ properties: Array<{ id: string; value: unknown }> }>
  }
}

export const panelsOf = (d: Dashboard) => (d.panels ?? []) as unknown as PanelJson[]

/**
 * Grafana's substitution of a panel's InfluxQL, as the InfluxDB datasource does it: `$timeFilter`
 * for the range, `$__interval`, constants, and the variables' values; a multi-value variable in a
 * regex becomes `(a|b)` with regex metacharacters escaped, "All" becomes its `.*`.
 */
export function substituteInfluxQL(
  query: string,
  o: { fromMs: number; toMs: number; intervalSeconds: number; vars: Record<string, string | string[]> },
): string {
  const iso = (ms: number) => new Date(ms).toISOString()
  const escape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}/]/g, '\\$&')
  const value = (name: string) => {
    const v = o.vars[name]
    if (v === undefined) throw new Error(`variable $${name} has no test value`)
    if (Array.isArray(v)) return v.length === 1 ? escape(v[0]) : `(${v.map(escape).join('|')})`
    return v
  }
  return query
    .replaceAll('$timeFilter', `time >= '${iso(o.fromMs)}' AND time <= '${iso(o.toMs)}'`)
    .replaceAll('$__interval', `${o.intervalSeconds}s`)
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => value((a ?? b)!))
}

/** Flux of a panel made valid for flux-lsp-node: Grafana's `v` record prepended, variables substituted. */
export function substituteFlux(query: string, vars: Record<string, string>): string {
  const body = query.replace(/\$\{(\w+)(?::\w+)?\}/g, (_, name: string) => {
    if (vars[name] === undefined) throw new Error(`variable \${${name}} has no test value`)
    return vars[name]
  })
  // Imports come first in Flux; Grafana's `v` record goes right after them.
  const lines = body.split('\n')
  const n = lines.findIndex((l) => !/^import |^$/.test(l))
  return [...lines.slice(0, n), 'option v = {timeRangeStart: -1h, timeRangeStop: now(), windowPeriod: 10s}', '', ...lines.slice(n)].join(
    '\n',
  )
}
