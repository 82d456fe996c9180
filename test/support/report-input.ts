import type { Job, JobComment } from '../../jobs/types.ts'
import { ACTIVITY_FIELDS, type ActivityField } from '../../lib/schema.ts'
import type { FieldAggregate } from '../../stats/compute.ts'
import type { Delta, JobStats } from '../../stats/service.ts'
import type { ReportInput } from '../../reports/model.ts'

/**
 * Hand-built report inputs (no API, no InfluxDB) for the report tests and the benchmark: a completed
 * one-hour job `render-sq010` with labels, three comments (stored out of time order), capacity, known
 * totals, a 60-point timeline, and a previous run whose deltas sit on both sides of the 20 % threshold.
 */

export const START = '2026-11-23T10:00:00.000Z'
const T0 = Date.parse(START) / 1000

/** This run's aggregates: totals are mean × 3600 s. */
export const ACTIVITY: Record<ActivityField, FieldAggregate> = {
  iops_read: { total: 1_800_000, mean: 500, peak: 800 }, // 1.80 M ops
  iops_write: { total: 720_000, mean: 200, peak: 300 }, // 720 k ops
  metadata_iops_read: { total: 4_320_000, mean: 1200, peak: 1300 }, // 4.32 M ops
  metadata_iops_write: { total: 180_000, mean: 50, peak: 60 }, // 180 k ops
  throughput_read: { total: 900e9, mean: 250e6, peak: 350e6 }, // 838.2 GiB, 238.4 MiB/s
  throughput_write: { total: 432e9, mean: 120e6, peak: 130e6 }, // 402.3 GiB, 114.4 MiB/s
}

/** Change of every aggregate against the previous run, percent (null: the previous run had none). */
export const CHANGE_PCT: Record<ActivityField, number | null> = {
  iops_read: 20, // exactly at the threshold: highlighted
  iops_write: 5, // below: not highlighted
  metadata_iops_read: null, // previous run 0: "new"
  metadata_iops_write: 0,
  throughput_read: -30, // a decrease beyond the threshold: green
  throughput_write: -4,
}

/** Strings that must never reach the HTML unescaped or a mail header with their CR/LF. */
export const HOSTILE = `<script>alert(1)</script> "><img src=x onerror=alert(2)> & 'q'\r\nX-Injected: yes`

export interface ReportInputOptions {
  name?: string
  id?: string
  labels?: Record<string, string>
  paths?: string[]
  comments?: JobComment[]
  /** job clients (the stats keep the top 10) @defaultValue 3 */
  clients?: number
  /**
   * timeline points, one per 60 s; the window is as long (60: one hour, totals exactly {@link ACTIVITY}; totals scale
   * with it) @defaultValue 60
   */
  points?: number
  /** @defaultValue true */
  previous?: boolean
  grafanaUrl?: string
  thresholdPct?: number
}

export const COMMENTS: JobComment[] = [
  { at: '2026-11-23T10:30:00.000Z', author: 'bob', text: 'halfway: cache warm' },
  { at: '2026-11-23T10:00:05.000Z', author: 'alice', text: 'started with\nframes 1-240' },
  { at: '2026-11-23T11:00:10.000Z', author: 'ci-bot', text: 'done ✓' },
]

function stats(job: Job, activity: Record<ActivityField, FieldAggregate>, seconds: number, clients: string[], paths: string[]): JobStats {
  return {
    job: job.id,
    name: job.name,
    cluster: job.cluster,
    status: job.status,
    window: { start: job.startedAt, end: job.endedAt!, seconds },
    activity,
    capacity: [
      {
        path: paths[0],
        startAt: job.startedAt,
        endAt: new Date(Date.parse(job.endedAt!) + 1500).toISOString(),
        usedBytes: { start: 100 * 2 ** 30, end: 145 * 2 ** 30, delta: 45 * 2 ** 30 },
        files: { start: 1000, end: 13_345, delta: 12_345 },
        directories: { start: 10, end: 77, delta: 67 },
      },
      ...paths
        .slice(1)
        .map((path) => ({ path, startAt: null, endAt: null, usedBytes: none, files: none, directories: none, error: 'not a directory' })),
    ],
    topClients: clients.slice(0, 10).map((client, i) => ({ client, ops: 500_000 / (i + 1), bytes: 100e9 / (i + 1) })),
    topPaths: paths.map((path, i) => ({ path: `${path}/frames`, ops: 2_000_000 / (i + 1), bytes: 600e9 / (i + 1) })),
    intervalSeconds: 60,
    polls: Math.round(seconds / 60) + 1,
    live: false,
    previousRuns: [],
  }
}
const none = { start: null, end: null, delta: null }

function scaleTotals(activity: Record<ActivityField, FieldAggregate>, factor: number): Record<ActivityField, FieldAggregate> {
  return Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, { ...activity[f], total: activity[f].total * factor }])) as Record<
    ActivityField,
    FieldAggregate
  >
}

function job(o: {
  id: string
  name: string
  startedAt: string
  endedAt: string
  labels: Record<string, string>
  paths: string[]
  clients: string[]
  comments: JobComment[]
}): Job {
  return {
    ...o,
    cluster: 'qumulo-a',
    status: 'succeeded',
    notify: ['render-team@example.com'],
    annotation: { state: 'off', comments: 0 },
    capacity: [],
    createdBy: 'ci',
    updatedAt: o.endedAt,
  }
}

/** this − previous and its percentage, as the API computes them (pct null when previous is 0). */
export function deltasOf(now: JobStats, before: JobStats): Record<ActivityField, Record<keyof FieldAggregate, Delta>> {
  const d = (a: number, b: number): Delta => ({ abs: a - b, pct: b === 0 ? null : ((a - b) * 100) / b })
  return Object.fromEntries(
    ACTIVITY_FIELDS.map((f) => {
      const a = now.activity[f]
      const b = before.activity[f]
      return [f, { total: d(a.total, b.total), mean: d(a.mean, b.mean), peak: d(a.peak, b.peak) }]
    }),
  ) as Record<ActivityField, Record<keyof FieldAggregate, Delta>>
}

/** A report input; every part can be overridden (see {@link ReportInputOptions}). */
export function reportInput(o: ReportInputOptions = {}): ReportInput {
  const clients = Array.from({ length: o.clients ?? 3 }, (_, i) => `10.${60 + (i >> 16)}.${(i >> 8) & 255}.${(i & 255) + 1}`)
  const paths = o.paths ?? ['/render/sq010', '/scratch/sq010']
  const points = o.points ?? 60
  const current = job({
    id: o.id ?? 'sq010-run2',
    name: o.name ?? 'render-sq010',
    startedAt: START,
    endedAt: new Date((T0 + points * 60) * 1000).toISOString(),
    labels: o.labels ?? { show: 'sq', shot: '010' },
    paths,
    clients,
    comments: o.comments ?? COMMENTS,
  })
  // totals grow with the window (mean × seconds); the default hour gives exactly ACTIVITY
  const activity = scaleTotals(ACTIVITY, points / 60)
  const s = stats(current, activity, points * 60, clients, paths)
  const timeline = Array.from({ length: points }, (_, i) => ({
    time: T0 + 60 * (i + 1),
    values: ACTIVITY_FIELDS.map((f, k) => ACTIVITY[f].mean * (1 + 0.3 * Math.sin(i / 6 + k))),
  }))
  let previous: ReportInput['previous']
  if (o.previous !== false) {
    const prevSeconds = points * 70 // 1h 10m for the default hour
    const prevStart = (T0 - prevSeconds - 6 * 3600) * 1000 // ended six hours before this run started
    const pj = job({
      ...current,
      id: 'sq010-run1',
      startedAt: new Date(prevStart).toISOString(),
      endedAt: new Date(prevStart + prevSeconds * 1000).toISOString(),
      comments: [],
    })
    const before = Object.fromEntries(
      ACTIVITY_FIELDS.map((f) => {
        const pct = CHANGE_PCT[f]
        const scale = (v: number) => (pct === null ? 0 : v / (1 + pct / 100))
        return [f, { total: scale(activity[f].total), mean: scale(activity[f].mean), peak: scale(activity[f].peak) }]
      }),
    ) as Record<ActivityField, FieldAggregate>
    const ps = stats(pj, before, prevSeconds, clients, paths)
    previous = { job: pj, stats: ps, deltas: deltasOf(s, ps) }
  }
  return {
    job: current,
    stats: s,
    timeline,
    previous,
    grafanaUrl: o.grafanaUrl,
    thresholdPct: o.thresholdPct ?? 20,
    generatedAt: new Date((T0 + points * 60 + 300) * 1000), // five minutes after the end: 11:05 for the default hour
  }
}
