/**
 * Disk per day for a big site (issue #14): 2,000 clients × 200 paths at a 60 s poll is ~400,000
 * activity series. InfluxDB's TSM engine compresses each series on its own (timestamps, then each
 * field, in blocks of up to 1,000 points), so bytes per point depend on a series' own history, not
 * on how many series there are: the benchmark writes SERIES series through one whole day (1,440
 * polls, in compressed time) into a private influxd 1.6.7, lets it compact, measures the bytes of
 * each database's TSM files, and scales to the site. Realistic variety: every series has its own
 * mix of the six activity types (many are zero for a client), its rates drift from poll to poll
 * (a multiplicative random walk of counts per minute, Qumulo's k/60 rates), and clients come and go
 * (a series is absent while its client is idle).
 *
 * Encodings compared: `qumulo_activity` as qactivity writes it (collector/activity.ts: integer counts
 * of Qumulo's 60 s window, all six fields), as it wrote it before (six float rates), and integer counts
 * with zero fields left out; the per-job series as written; the hourly rollups as written
 * (collector/rollup.ts: total and peak of each field, and `polls`) over a week.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { startLocalInfluxd } from '../lib/influx/local-server.ts'
import { ACTIVITY_FIELDS, MEASUREMENT } from '../lib/schema.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import { activityLines } from '../collector/activity.ts'
import { rollupLines } from '../collector/rollup.ts'
import { printTable, row } from './table.ts'

const SERIES = Number(process.env.SERIES ?? 1000)
const SITE_SERIES = 400_000 // 2,000 clients × 200 paths
const POLLS = 1440 // a day at 60 s
const T0 = Math.floor(Date.parse('2026-11-02T00:00:00Z') / 1000)

/** A deterministic pseudo-random source, so every run writes the same data. */
function random(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** One series' day: counts per minute of the six types at each poll, or null while its client is idle. */
function* seriesDay(i: number): Generator<number[] | null> {
  const rnd = random(i + 1)
  // which of the six this client does (a reader, a writer, a metadata walker…): others stay 0
  const uses = ACTIVITY_FIELDS.map(() => rnd() < 0.45)
  uses[Math.floor(rnd() * 6)] = true
  const level = ACTIVITY_FIELDS.map((f, k) => (uses[k] ? Math.ceil(rnd() * (f.startsWith('throughput') ? 2e6 : 600)) : 0))
  let active = rnd() < 0.7
  for (let t = 0; t < POLLS; t++) {
    if (rnd() < 0.02) active = !active // clients come and go
    if (!active) {
      yield null
      continue
    }
    for (let k = 0; k < 6; k++) if (level[k]) level[k] = Math.max(1, Math.round(level[k] * Math.exp((rnd() - 0.5) * 0.6)))
    yield [...level]
  }
}

const tags = (i: number) => ({
  cluster: 'qumulo-a',
  client_ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  path: `/proj${i % 200}/shots`,
})

const seriesTags = (i: number) => {
  const { client_ip, path } = tags(i)
  return { clientIp: client_ip, path }
}

type Encoder = (i: number, t: number, perMinute: number[]) => string

const ENCODINGS: Record<string, { db: string; what: string; line: Encoder }> = {
  written: {
    db: 'enc_written',
    what: 'qumulo_activity as written: integer counts of the 60 s window, all six',
    line: (i, t, k) => activityLines([{ ...seriesTags(i), rates: Float64Array.from(k, (n) => n / 60) }], 'qumulo-a', t)[0],
  },
  floats: {
    db: 'enc_floats',
    what: 'qumulo_activity before #14: six float rates (k/60), all six',
    line: (i, t, k) =>
      toLine({
        measurement: MEASUREMENT.activity,
        tags: tags(i),
        fields: Object.fromEntries(ACTIVITY_FIELDS.map((f, j) => [f, k[j] / 60])),
        time: t,
      }),
  },
  counts: {
    db: 'enc_counts',
    what: 'integer counts, zero fields left out (not used: a per-poll sum would skip the zeros)',
    line: (i, t, k) =>
      toLine({
        measurement: MEASUREMENT.activity,
        tags: tags(i),
        fields: Object.fromEntries(ACTIVITY_FIELDS.flatMap((f, j) => (k[j] ? [[f, BigInt(k[j])]] : []))),
        time: t,
      }),
  },
  jobs: {
    db: 'enc_jobs',
    what: 'qactivity_job_activity as written (a job × client × path series: six rates, seconds, elapsed)',
    line: (i, t, k) =>
      toLine({
        measurement: MEASUREMENT.jobActivity,
        tags: { job_id: `48${String(i).padStart(6, '0')}`, job_name: `render-${i % 50}`, ...tags(i) },
        fields: { ...Object.fromEntries(ACTIVITY_FIELDS.map((f, j) => [f, k[j] / 60])), seconds: 60, elapsed_seconds: t - T0 },
        time: t,
      }),
  },
}

async function write(url: string, db: string, lines: string[]): Promise<void> {
  const res = await fetch(`${url}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.join('\n') })
  if (res.status !== 204) throw new Error(`write ${db}: ${res.status} ${(await res.text()).slice(0, 300)}`)
}

function bytesOf(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    n += e.isDirectory() ? bytesOf(p) : e.name.endsWith('.tsm') ? statSync(p).size : 0
  }
  return n
}

const influxd = await startLocalInfluxd({
  data: ['cache-snapshot-write-cold-duration = "1s"', 'compact-full-write-cold-duration = "1s"', 'max-values-per-tag = 0'],
})
try {
  const q = (cmd: string) => fetch(`${influxd.url}/query?q=${encodeURIComponent(cmd)}`, { method: 'POST' })
  const points: Record<string, number> = {}
  for (const [name, e] of Object.entries(ENCODINGS)) {
    await q(`CREATE DATABASE ${e.db}`)
    let batch: string[] = []
    points[name] = 0
    for (let i = 0; i < SERIES; i++) {
      let t = T0
      for (const k of seriesDay(i)) {
        if (k) {
          batch.push(e.line(i, t, k))
          points[name]++
        }
        t += 60
        if (batch.length >= 10_000) {
          await write(influxd.url, e.db, batch)
          batch = []
        }
      }
    }
    if (batch.length) await write(influxd.url, e.db, batch)
  }
  // Rollups as the collector writes them (collector/rollup.ts), one row per series, a week of hours (their shards hold 7 days).
  await q('CREATE DATABASE enc_rollups')
  let rollupPoints = 0
  let batch: string[] = []
  for (let i = 0; i < SERIES; i++) {
    for (let day = 0; day < 7; day++) {
      const polls = [...seriesDay(i + day * 1_000_003)]
      for (let h = 0; h < 24; h++) {
        const hour = polls.slice(h * 60, h * 60 + 60).filter((k): k is number[] => k !== null)
        if (!hour.length) continue
        const row = {
          total: ACTIVITY_FIELDS.map((_, j) => hour.reduce((a, k) => a + k[j], 0)), // Σ k/60 × 60 s
          peak: ACTIVITY_FIELDS.map((_, j) => Math.max(...hour.map((k) => k[j])) / 60),
        }
        const state = { period: T0 + day * 86400 + h * 3600, lastPoll: 0, polls: hour.length, paths: { [`/s${i}`]: row }, clients: {} }
        batch.push(...rollupLines(state, 'qumulo-a'))
        rollupPoints++
        if (batch.length >= 10_000) {
          await write(influxd.url, 'enc_rollups', batch)
          batch = []
        }
      }
    }
  }
  if (batch.length) await write(influxd.url, 'enc_rollups', batch)

  // Let influxd snapshot its cache and compact fully: sizes stop changing.
  const dataDir = join(influxd.dir, 'data')
  const sizes = () =>
    Object.fromEntries([...Object.values(ENCODINGS).map((e) => e.db), 'enc_rollups'].map((db) => [db, bytesOf(join(dataDir, db))]))
  let last = ''
  for (let stable = 0; stable < 5;) {
    await new Promise((r) => setTimeout(r, 1000))
    const now = JSON.stringify(sizes())
    stable = now === last ? stable + 1 : 0
    last = now
  }
  const size = sizes()
  const perDay = (bytes: number) => (bytes / SERIES) * SITE_SERIES
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`
  for (const [name, e] of Object.entries(ENCODINGS)) {
    const bytes = size[e.db]
    row(`${name}: ${e.what}`, `${(bytes / points[name]).toFixed(2)} B/point`, '', undefined)
    const day = perDay(bytes)
    if (name !== 'jobs') row(`${name}: raw activity per day at ${SITE_SERIES.toLocaleString('en')} series`, gb(day), '≤ 3 GB', day <= 3e9)
  }
  row('jobs: per-job series per day, as many series as raw activity', gb(perDay(size.enc_jobs)), '', undefined)
  const rollupDay = perDay(size.enc_rollups) / 7
  row(
    `rollups as written: ${(size.enc_rollups / rollupPoints).toFixed(2)} B per row-hour; one row per client × path, per day`,
    mb(rollupDay),
    '≤ 50 MB',
    rollupDay <= 50e6,
  )
  // One row per path and one per client (2,200 rows, not 400,000): the same bytes per row-hour.
  const apartDay = (rollupDay / SITE_SERIES) * (2000 + 200)
  row('rollups as written: per path and per client (2,200 rows), per day', mb(apartDay), '≤ 50 MB', apartDay <= 50e6)
  const year = 30 * perDay(size.enc_written) + 365 * apartDay
  row('a year as written: 30 days of raw activity + 365 days of rollups (job series apart)', gb(year), '≤ 200 GB', year <= 200e9)
  const before = 365 * perDay(size.enc_floats)
  row('a year before #14: raw activity kept forever, floats', gb(before), '≤ 200 GB', before <= 200e9)
  row('series written per encoding (each 1,440 polls, ~70 % active)', `${SERIES.toLocaleString('en')}`, '', undefined)
} finally {
  await influxd.close()
}
printTable()
