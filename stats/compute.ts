import { ACTIVITY_FIELDS, FIELD_UNIT, type ActivityField } from '../lib/schema.ts'
import { overlapSeconds, type ActivityRow, type ActivitySelector } from './model.ts'

/** Clients and paths in a job's top lists: the API's, the CLI's and the reports' N. */
export const TOP_N = 10

/** §6 aggregates of one activity field. */
export interface FieldAggregate {
  /** rate integrated over the window: operations or bytes */
  total: number
  /** total / window seconds: ops/s or bytes/s */
  mean: number
  /** highest summed rate at one poll time inside the window: ops/s or bytes/s */
  peak: number
}

/** The summed rates of a job's points at one poll time (or the mean over a few consecutive polls). */
export interface TimelinePoint {
  /** poll time, epoch seconds */
  time: number
  /** rates in ACTIVITY_FIELDS order: ops/s, bytes/s */
  values: number[]
}

/** A client's or path's share of the job: total operations and bytes. */
export interface Share {
  ops: number
  bytes: number
}

/** The activity part of the §6 answer. */
export interface ActivityAggregates {
  activity: Record<ActivityField, FieldAggregate>
  topClients: Array<{ client: string } & Share>
  topPaths: Array<{ path: string } & Share>
  /** distinct poll times that contributed */
  polls: number
  /** summed rates per poll, at most {@link TIMELINE_POINTS} points (report charts) */
  timeline: TimelinePoint[]
  /** summed rates of every poll (epoch s → ACTIVITY_FIELDS order): the job's side of its share of the cluster */
  perPoll: Map<number, number[]>
}

/** Points kept of a job's time series (a chart's width; a summary's size). */
export const TIMELINE_POINTS = 240

const OPS = ACTIVITY_FIELDS.map((f) => FIELD_UNIT[f] === 'ops/s')

function addShare(map: Map<string, Share>, key: string, values: number[], weight: number) {
  const s = map.get(key) ?? { ops: 0, bytes: 0 }
  values.forEach((v, i) => (OPS[i] ? (s.ops += v * weight) : (s.bytes += v * weight)))
  map.set(key, s)
}

function top<K extends string>(map: Map<string, Share>, key: K, n: number): Array<Record<K, string> & Share> {
  return [...map]
    .sort(([a, x], [b, y]) => y.ops - x.ops || y.bytes - x.bytes || (a < b ? -1 : 1))
    .slice(0, n)
    .map(([k, s]) => ({ [key]: k, ...s }) as Record<K, string> & Share)
}

/**
 * Integrates matching points over the window (see stats/model.ts for the edge rule), fed in any
 * number of batches. Every row is one (time, client, path) point and counts once, whichever of
 * client or path matched it. A row's weight depends on the window end only when its interval
 * reaches past it, so while a job runs (end = now, every stored t ≤ now) what has been added stays
 * right as the window grows: stats/live.ts keeps one per running job.
 */
export class ActivityAccumulator {
  private perTime = new Map<number, number[]>()
  private clients = new Map<string, Share>()
  private paths = new Map<string, Share>()
  private totals = ACTIVITY_FIELDS.map(() => 0)
  /** stored points added (see {@link ActivityRow.points}) */
  points = 0

  add(rows: readonly ActivityRow[], s: ActivitySelector): this {
    for (const r of rows) {
      this.points += r.points
      const weight = overlapSeconds(r.time, s)
      if (weight <= 0) continue
      let sums = this.perTime.get(r.time)
      if (!sums) this.perTime.set(r.time, (sums = ACTIVITY_FIELDS.map(() => 0)))
      for (let i = 0; i < r.values.length; i++) {
        sums[i] += r.values[i]
        this.totals[i] += r.values[i] * weight
      }
      addShare(this.clients, r.client, r.values, weight)
      addShare(this.paths, r.path, r.values, weight)
    }
    return this
  }

  /**
   * The summed rates per poll time, oldest first: the job's time series. Qumulo lists only active
   * entries, so a poll without a point means no activity: polls missing between two that exist
   * (gaps of whole intervals of `intervalSeconds`) are filled with zeros. Beyond `maxPoints`, equal
   * groups of consecutive polls (equal spans of time) are averaged and stamped with their last time.
   */
  timeline(maxPoints = Infinity, intervalSeconds?: number): TimelinePoint[] {
    const polls: Array<[number, number[]]> = []
    for (const [time, values] of [...this.perTime].sort(([a], [b]) => a - b)) {
      const prev = polls.at(-1)?.[0]
      if (prev !== undefined && intervalSeconds)
        for (let t = prev + intervalSeconds; t < time - intervalSeconds / 2; t += intervalSeconds)
          polls.push([t, ACTIVITY_FIELDS.map(() => 0)])
      polls.push([time, values])
    }
    const k = Math.ceil(polls.length / maxPoints)
    if (k <= 1) return polls.map(([time, values]) => ({ time, values: [...values] }))
    const out: TimelinePoint[] = []
    for (let i = 0; i < polls.length; i += k) {
      const group = polls.slice(i, i + k)
      out.push({
        time: group[group.length - 1][0],
        values: ACTIVITY_FIELDS.map((_, f) => group.reduce((sum, [, v]) => sum + v[f], 0) / group.length),
      })
    }
    return out
  }

  /** An independent copy: add the unsettled tail to it, keep this one. */
  clone(): ActivityAccumulator {
    const c = new ActivityAccumulator()
    c.perTime = new Map([...this.perTime].map(([t, v]) => [t, [...v]]))
    c.clients = new Map([...this.clients].map(([k, v]) => [k, { ...v }]))
    c.paths = new Map([...this.paths].map(([k, v]) => [k, { ...v }]))
    c.totals = [...this.totals]
    c.points = this.points
    return c
  }

  result(s: ActivitySelector): ActivityAggregates {
    const seconds = Math.max(0, (s.endMs - s.startMs) / 1000)
    const activity = Object.fromEntries(
      ACTIVITY_FIELDS.map((f, i) => [
        f,
        {
          total: this.totals[i],
          mean: seconds > 0 ? this.totals[i] / seconds : 0,
          peak: Math.max(0, ...[...this.perTime.values()].map((v) => v[i])),
        },
      ]),
    ) as Record<ActivityField, FieldAggregate>
    return {
      activity,
      topClients: top(this.clients, 'client', TOP_N),
      topPaths: top(this.paths, 'path', TOP_N),
      polls: this.perTime.size,
      timeline: this.timeline(TIMELINE_POINTS, s.intervalSeconds),
      perPoll: new Map(this.perTime),
    }
  }
}

/** The §6 activity aggregates of a job's points over its window. */
export function aggregateActivity(rows: readonly ActivityRow[], s: ActivitySelector): ActivityAggregates {
  return new ActivityAccumulator().add(rows, s).result(s)
}
