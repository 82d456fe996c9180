import type { InfluxQL } from '../lib/influx/influxql.ts'
import { quoteIdent, quoteString } from '../lib/influx/influxql.ts'
import { MEASUREMENT } from '../lib/schema.ts'

/**
 * Whether InfluxDB already holds every activity point of `cluster` up to `untilS` (epoch s).
 *
 * The proof is the collector's own `qactivity_collector` point of a poll at or after `untilS`: each
 * poll writes its points, then that point, and the spool delivers strictly in write order, so once
 * it is in InfluxDB every earlier point of that collector is too (or was refused as bad data). This
 * holds whether the collector runs in this process (`serve`) or another (`collect` + `api`), and
 * across restarts that replay a spool. Throws when InfluxDB does not answer.
 */
export type DeliveredCheck = (cluster: string, untilS: number) => Promise<boolean>

/** {@link DeliveredCheck} with one InfluxQL query. */
export function collectorWatermark(influxql: InfluxQL): DeliveredCheck {
  return async (cluster, untilS) => {
    const since = quoteString(new Date(untilS * 1000).toISOString())
    const [result] = await influxql.query(
      `SELECT last(${quoteIdent('points')}) FROM ${quoteIdent(MEASUREMENT.collector)} WHERE ${quoteIdent('cluster')} = ${quoteString(cluster)} AND time >= ${since}`,
    )
    return (result?.series.length ?? 0) > 0
  }
}
