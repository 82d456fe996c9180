import { ACTIVITY_FIELDS, FIELD_OF_TYPE, MEASUREMENT, type ActivityType } from '../lib/schema.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import type { ActivityEntry } from '../qumulo/types.ts'

/** Summed rates of one (client_ip, path) series, indexed like {@link ACTIVITY_FIELDS}. */
export interface ActivitySeries {
  clientIp: string
  path: string
  rates: Float64Array
}

const FIELD_INDEX = Object.fromEntries(
  Object.entries(FIELD_OF_TYPE).map(([type, field]) => [type, ACTIVITY_FIELDS.indexOf(field)]),
) as Record<ActivityType, number>

/**
 * Sums entry rates per (client IP, path tag). Every entry counts exactly once; `pathOf` maps a file
 * id to its tag (see PathRule).
 */
export function sumBySeries(entries: readonly ActivityEntry[], pathOf: (id: string) => string): ActivitySeries[] {
  const series = new Map<string, ActivitySeries>()
  for (const e of entries) {
    const path = pathOf(e.id)
    const key = e.ip + '\u0000' + path
    let s = series.get(key)
    if (!s) {
      s = { clientIp: e.ip, path, rates: new Float64Array(ACTIVITY_FIELDS.length) }
      series.set(key, s)
    }
    s.rates[FIELD_INDEX[e.type]] += e.rate
  }
  return [...series.values()]
}

/** `qumulo_activity` lines with all six fields (floats), timestamped at the poll time in seconds. */
export function activityLines(series: readonly ActivitySeries[], cluster: string, time: number): string[] {
  return series.map((s) => {
    const fields: Record<string, number> = {}
    ACTIVITY_FIELDS.forEach((f, i) => (fields[f] = s.rates[i]))
    return toLine({
      measurement: MEASUREMENT.activity,
      tags: { cluster, client_ip: s.clientIp, path: s.path },
      fields,
      time,
    })
  })
}
