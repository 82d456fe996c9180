import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { clusterDashboard } from './cluster.ts'
import { compareDashboard } from './compare.ts'
import { jobDashboard } from './job.ts'
import { usageDashboard } from './usage.ts'
import { FLAVOURS, type Flavour } from './target.ts'

/** Values baked into the dashboards' constants. */
export interface DashboardOptions {
  /** the collector's QACTIVITY_POLL_SECONDS @defaultValue 60 */
  pollSeconds?: number
  /** the collector's QACTIVITY_ROLLUP_PERIOD in seconds (0, off: the default) @defaultValue 3600 */
  rollupSeconds?: number
  /** INFLUX_BUCKET, for Flux @defaultValue 'qactivity' */
  bucket?: string
}

/** One generated dashboard file. */
export interface DashboardFile {
  flavour: Flavour
  /** path under the output directory: `<flavour>/<name>.json` */
  file: string
  dashboard: Dashboard
}

const BUILDERS = { cluster: clusterDashboard, job: jobDashboard, compare: compareDashboard, usage: usageDashboard }

/** The four dashboards in both flavours (README: Dashboards). */
export function buildDashboards(o: DashboardOptions = {}): DashboardFile[] {
  return FLAVOURS.flatMap((flavour) =>
    Object.entries(BUILDERS).map(([name, build]) => {
      const dashboard = build(flavour)
      // The SDK's default hides annotation toggles and links in a menu; show them on the dashboard.
      for (const a of dashboard.annotations?.list ?? []) delete a.placement
      for (const l of dashboard.links ?? []) delete l.placement
      for (const v of dashboard.templating?.list ?? []) {
        const constants: Record<string, string> = {
          poll: String(o.pollSeconds ?? 60),
          rollup: String(o.rollupSeconds || 3600),
          bucket: o.bucket ?? 'qactivity',
        }
        const value = constants[v.name]
        if (value !== undefined && v.type === 'constant') {
          v.query = value
          v.current = { text: value, value }
          v.options = [{ text: value, value, selected: true }]
        }
      }
      return { flavour, file: join(flavour, `${name}.json`), dashboard }
    }),
  )
}

/** The JSON text of a dashboard file (stable: the staleness test compares it byte for byte). */
export function dashboardJson(d: Dashboard): string {
  return JSON.stringify(d, null, 2) + '\n'
}

/** Writes every dashboard under `dir`; returns the paths written, and those left as they were. */
export function writeDashboards(dir: string, o: DashboardOptions = {}): { written: string[]; unchanged: string[] } {
  const written: string[] = []
  const unchanged: string[] = []
  for (const d of buildDashboards(o)) {
    const path = join(dir, d.file)
    const text = dashboardJson(d.dashboard)
    let old: string | undefined
    try {
      old = readFileSync(path, 'utf8')
    } catch {
      old = undefined
    }
    if (old === text) {
      unchanged.push(path)
      continue
    }
    mkdirSync(join(dir, d.flavour), { recursive: true })
    writeFileSync(path, text)
    written.push(path)
  }
  return { written, unchanged }
}
