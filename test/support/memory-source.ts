import { JobIndex } from '../../collector/attribution.ts'
import type { ActivityQuery, ActivityRow, ActivitySource } from '../../stats/model.ts'

/**
 * An in-memory stand-in for InfluxDB with the queries' semantics: from < t < to, client OR path. A
 * job's series (`jobId`) is the points the collector would have attributed to it: matched by the
 * collector's own index against the job's clients (CIDRs included) and paths.
 */
export function memorySource() {
  const points: ActivityRow[] = []
  const calls = { rows: 0, count: 0, rowsRead: 0 }
  const matching = (q: ActivityQuery) => {
    const s = q.selector
    const index = new JobIndex([{ id: 'j', name: 'j', cluster: '', startMs: 0, clients: s.clients, paths: s.paths }])
    const belongs =
      q.jobId !== undefined
        ? (p: ActivityRow) => s.clients.includes(p.client) || index.match(p.client, p.path).length > 0
        : (p: ActivityRow) => s.clients.includes(p.client) || s.paths.some((b) => p.path === b || p.path.startsWith(b + '/'))
    return points.filter((p) => p.time * 1000 > q.range.fromMs && p.time * 1000 < q.range.toMs && belongs(p))
  }
  const source: ActivitySource = {
    async rows(q) {
      calls.rows++
      const r = matching(q).map((p) => ({ ...p, values: [...p.values] }))
      calls.rowsRead += r.length
      return r
    },
    async count(q) {
      calls.count++
      return matching(q).reduce((n, p) => n + p.points, 0)
    },
    async timeline() {
      return [] // no stored series here: the service reads raw points instead
    },
    async clientValues() {
      return [...new Set(points.map((p) => p.client))]
    },
  }
  return { points, calls, source }
}
