import { truncatePath } from '../lib/paths.ts'
import { ACTIVITY_FIELDS } from '../lib/schema.ts'
import type { ActivitySeries } from './activity.ts'

/** What {@link fitBudget} did to a cycle's activity series. */
export interface BudgetFit {
  series: ActivitySeries[]
  /** distinct path tags merged into shallower ones (0: within budget) */
  collapsedPaths: number
  /** the depth collapsible paths were cut to; undefined when nothing was collapsed */
  depth?: number
  /** still above the budget with every collapsible path at `/`: the watched paths and clients alone exceed it */
  over: boolean
}

const depthOf = (path: string) => (path === '/' ? 0 : path.split('/').length - 1)

/**
 * The series budget (`QACTIVITY_MAX_SERIES_PER_CYCLE`, README "Sizing and retention"): above
 * `budget` series, the paths that are neither watched (a job's, `QACTIVITY_WATCH_PATHS`) nor
 * `(unresolved)` are cut one level shallower, deepest first, until the cycle fits; the rates of the
 * series that become one are summed, so totals stay exact. Watched paths are never touched, and a
 * job's attribution (by its paths, which are watched, or by client) is the same either way.
 */
export function fitBudget(series: ActivitySeries[], budget: number, kept: (path: string) => boolean): BudgetFit {
  if (series.length <= budget) return { series, collapsedPaths: 0, over: false }
  const collapsible = series.filter((s) => !kept(s.path))
  let depth = Math.max(0, ...collapsible.map((s) => depthOf(s.path)))
  let out = series
  while (out.length > budget && depth > 0) {
    depth--
    const merged = new Map<string, ActivitySeries>()
    for (const s of series) {
      const path = kept(s.path) ? s.path : truncatePath(s.path, depth)
      const key = `${s.clientIp}\u0000${path}`
      const m = merged.get(key)
      if (!m) merged.set(key, { clientIp: s.clientIp, path, rates: Float64Array.from(s.rates) })
      else for (let i = 0; i < ACTIVITY_FIELDS.length; i++) m.rates[i] += s.rates[i]
    }
    out = [...merged.values()]
  }
  if (out === series) return { series, collapsedPaths: 0, over: true }
  const collapsedPaths = new Set(collapsible.filter((s) => depthOf(s.path) > depth).map((s) => s.path)).size
  return { series: out, collapsedPaths, depth, over: out.length > budget }
}
