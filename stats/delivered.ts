import { InfluxDB } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../lib/config.ts'
import { createInfluxQL, quoteIdent, quoteString } from '../lib/influx/influxql.ts'
import { MEASUREMENT } from '../lib/schema.ts'
import { fluxString, fluxTime } from './flux.ts'

/**
 * Whether InfluxDB already holds every activity point of `cluster` up to `untilS` (epoch s).
 *
 * The proof is the collector's own `qactivity_collector` point of a poll at or after `untilS`: each
 * poll writes its points, then that point, and the spool delivers strictly in write order, so once
 * it is in InfluxDB every earlier point of that collector is too (or was refused as bad data). This
 * holds whether the collector runs in this process (`serve`) or another (`collect` + `api`), and
 * across restarts that replay a spool. A job tied to no cluster (`""`) takes any collector's point.
 * Throws when InfluxDB does not answer.
 */
export type DeliveredCheck = (cluster: string, untilS: number) => Promise<boolean>

/** Points later than this after `untilS` are not looked at (a year, in ms). */
const HORIZON_MS = 366 * 24 * 3_600_000

/** The Flux counting the collector points of `cluster` at or after `untilS` (one `_value`, no table when none). */
export function renderFluxCollectorCount(cluster: string, untilS: number, bucket: string): string {
  const from = Math.round(untilS * 1000)
  return (
    [
      `from(bucket: ${fluxString(bucket)})`,
      `  |> range(start: ${fluxTime(from)}, stop: ${fluxTime(from + HORIZON_MS)})`,
      `  |> filter(fn: (r) => r._measurement == ${fluxString(MEASUREMENT.collector)}` +
        `${cluster ? ` and r.cluster == ${fluxString(cluster)}` : ''} and r._field == "points")`,
      '  |> group()',
      '  |> count()',
    ].join('\n') + '\n'
  )
}

/** {@link DeliveredCheck} with one query in the configured language (`INFLUX_QUERY_LANGUAGE`). */
export function collectorWatermark(cfg: InfluxConfig): DeliveredCheck {
  if (cfg.queryLanguage === 'flux') {
    const api = new InfluxDB({ url: cfg.url, token: cfg.token, timeout: 30_000 }).getQueryApi(cfg.org ?? '')
    return async (cluster, untilS) => {
      const rows = await api.collectRows<{ _value?: unknown }>(renderFluxCollectorCount(cluster, untilS, cfg.bucket))
      return rows.some((r) => Number(r._value) > 0)
    }
  }
  const influxql = createInfluxQL(cfg)
  return async (cluster, untilS) => {
    const since = quoteString(new Date(untilS * 1000).toISOString())
    const [result] = await influxql.query(
      `SELECT last(${quoteIdent('points')}) FROM ${quoteIdent(MEASUREMENT.collector)} ` +
        `WHERE ${cluster ? `${quoteIdent('cluster')} = ${quoteString(cluster)} AND ` : ''}time >= ${since}`,
    )
    return (result?.series.length ?? 0) > 0
  }
}

/**
 * A {@link DeliveredCheck} that asks InfluxDB at most about once a second per cluster: a time once
 * delivered stays delivered, and a "not yet" holds for `holdMs` for that time and later ones.
 * Thousands of summaries and backfills waiting on one outage then cost one query a second, not one each.
 */
export function cachedDelivered(check: DeliveredCheck, holdMs = 1000, now: () => number = Date.now): DeliveredCheck {
  const delivered = new Map<string, number>()
  const notYet = new Map<string, { untilS: number; atMs: number }>()
  return async (cluster, untilS) => {
    if (untilS <= (delivered.get(cluster) ?? -Infinity)) return true
    const no = notYet.get(cluster)
    if (no && untilS >= no.untilS && now() - no.atMs < holdMs) return false
    const ok = await check(cluster, untilS)
    if (ok) delivered.set(cluster, Math.max(untilS, delivered.get(cluster) ?? -Infinity))
    else notYet.set(cluster, { untilS, atMs: now() })
    return ok
  }
}
