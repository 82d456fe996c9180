import type { ActivityQuery, ActivityRow, ActivitySource } from '../../stats/model.ts'

/** An in-memory stand-in for InfluxDB with the two queries' semantics: from < t < to, client OR path. */
export function memorySource() {
  const points: ActivityRow[] = []
  const calls = { rows: 0, count: 0, rowsRead: 0 }
  const matching = (q: ActivityQuery) =>
    points.filter(
      (p) =>
        p.time * 1000 > q.range.fromMs &&
        p.time * 1000 < q.range.toMs &&
        (q.selector.clients.includes(p.client) || q.selector.paths.some((b) => p.path === b || p.path.startsWith(b + '/'))),
    )
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
