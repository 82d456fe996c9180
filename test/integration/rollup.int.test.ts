import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, type Config } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { createDurableWriter } from '../../lib/influx/writer.ts'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { createQumuloClient } from '../../qumulo/client.ts'
import { createCollector } from '../../collector/index.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/server.ts'
import { parseScenario } from '../../simulator/scenario.ts'
import { ACTIVITY_FIELDS, MEASUREMENT, influxqlFrom } from '../../lib/schema.ts'
import { createRangeSource } from '../../stats/range.ts'
import { rollupFile } from '../../collector/rollup.ts'
import { until } from '../support/wait.ts'
import { makeApp } from '../support/api-app.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

/**
 * Rollups against the raw points they sum, on the real influxd: workloads start and stop between
 * polls (the simulator runs on a clock the test moves), so per-poll sums differ and peaks mean something.
 */
const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname
const POLL = 10
const PERIOD = 60
const scenario = parseScenario({
  workloads: [
    { clients: ['10.0.0.1', '10.0.0.2'], path: '/proj/a/x', files: 3, ops: { 'file-iops-read': 7, 'file-throughput-write': 5 } },
    { clients: ['10.0.0.3'], path: '/proj/a/y', files: 2, startSeconds: 20, endSeconds: 50, ops: { 'file-iops-read': 90 } },
    {
      clients: ['10.0.0.1'],
      path: '/proj/b',
      files: 1,
      startSeconds: 45,
      endSeconds: 105,
      ops: { 'metadata-iops-write': 13, 'file-iops-write': 11 },
    },
    { clients: ['10.0.0.4'], path: '/scratch', files: 4, startSeconds: 70, ops: { 'metadata-iops-read': 3 } },
  ],
})

let influxd: Influxd
let sim: RunningSimulator
let simNow = 0

beforeAll(async () => {
  simNow = Date.now()
  ;[influxd, sim] = await Promise.all([startInfluxd(), startSimulator({ scenario, clock: () => simNow })])
})
afterAll(async () => {
  await sim?.close()
  await influxd?.stop()
})

function configFor(dataDir: string): Config {
  return loadConfig(
    {
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'sim',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'rollup',
      QACTIVITY_PATH_DEPTH: '2',
      QACTIVITY_POLL_SECONDS: String(POLL),
      QACTIVITY_ROLLUP_PERIOD: '1m',
      QACTIVITY_DATA_DIR: dataDir,
    },
    ['qumulo', 'influx'],
  )
}

async function collectorFor(config: Config) {
  const writer = await createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, 'spool'),
    maxBytes: config.storage.spoolMaxBytes,
    log: silentLogger,
    retryMinMs: 50,
    retryMaxMs: 200,
  })
  const collector = createCollector({ config, qumulo: createQumuloClient(config.qumulo, silentLogger), writer, log: silentLogger })
  return { writer, collector }
}

type Sums = Map<string, { total: number[]; peak: number[] }>

/** The first period's start: the polls are stamped t0+10 … t0+130. */
const t0 = Math.floor(Date.now() / 1000 / PERIOD) * PERIOD - 3600

/**
 * The rollup of each period computed here from the raw points — integer counts of Qumulo's 60 s
 * window, so a per-poll sum is exact and its rate is sum / 60 — Σ rate × POLL and the max per-poll rate, per key.
 */
function fromRaw(rows: Record<string, unknown>[], key: 'path' | 'client_ip' | 'cluster', poll = POLL): Map<number, Sums> {
  const perPoll = new Map<string, number[]>() // period|key|time → summed counts
  for (const r of rows) {
    const t = r.time as number
    const period = Math.ceil(t / PERIOD) * PERIOD - PERIOD
    const k = `${period}|${r[key] as string}|${t}`
    const sums = perPoll.get(k) ?? ACTIVITY_FIELDS.map(() => 0)
    ACTIVITY_FIELDS.forEach((f, i) => (sums[i] += (r[f] as number | null) ?? 0))
    perPoll.set(k, sums)
  }
  const out = new Map<number, Sums>()
  for (const [k, sums] of perPoll) {
    const [period, tag] = k.split('|')
    const byKey = out.get(Number(period)) ?? new Map()
    const row = byKey.get(tag) ?? { total: ACTIVITY_FIELDS.map(() => 0), peak: ACTIVITY_FIELDS.map(() => 0) }
    sums.forEach((count, i) => {
      const v = count / 60
      row.total[i] += v * poll
      row.peak[i] = Math.max(row.peak[i], v)
    })
    byKey.set(tag, row)
    out.set(Number(period), byKey)
  }
  return out
}

describe('activity rollups (QACTIVITY_ROLLUP_PERIOD)', () => {
  it('equal the raw points they sum — totals to 1e-9, peaks exactly — across a restart of the collector mid-period', async () => {
    const dataDir = tempDir()
    const config = configFor(dataDir)
    const start = simNow
    let { writer, collector } = await collectorFor(config)
    // polls t0+10 … t0+130: [t0, t0+60) completes at t0+70, [t0+60, t0+120) at t0+130, with a restart after t0+90
    for (let i = 1; i <= 13; i++) {
      simNow = start + i * POLL * 1000
      expect((await collector.runOnce(t0 + i * POLL)).success).toBe(true)
      if (i === 9) {
        await writer.close()
        ;({ writer, collector } = await collectorFor(config))
      }
    }
    await writer.flush()
    await writer.close()

    const q = createInfluxQL(config.influx)
    const [raw] = await q.query(`SELECT * FROM ${influxqlFrom(MEASUREMENT.activity)} WHERE "cluster" = 'sim'`)
    const rawRows = raw.series.flatMap((s) => s.rows).filter((r) => (r.time as number) <= t0 + 120)
    const [rolled] = await q.query(`SELECT * FROM ${influxqlFrom(MEASUREMENT.activityRollup)} WHERE "cluster" = 'sim'`)
    const rollups = rolled.series.flatMap((s) => s.rows)
    expect(new Set(rollups.map((r) => r.time))).toEqual(new Set([t0, t0 + 60]))

    // per path, per client, and the cluster's own row (neither tag; its peak is not the sum of its paths')
    for (const key of ['path', 'client_ip', 'cluster'] as const) {
      const truth = fromRaw(rawRows, key)
      const kind = (r: Record<string, unknown>) => (r.path != null ? 'path' : r.client_ip != null ? 'client_ip' : 'cluster')
      const rows = rollups.filter((r) => kind(r) === key)
      for (const [period, byKey] of truth) {
        const got = rows.filter((r) => r.time === period)
        expect(got.map((r) => r[key]).sort(), `${key} rows of ${period - t0}`).toEqual([...byKey.keys()].sort())
        for (const r of got) {
          const want = byKey.get(r[key] as string)!
          expect(r.polls).toBe(6)
          ACTIVITY_FIELDS.forEach((f, i) => {
            expect(Math.abs((r[`${f}_total`] as number) - want.total[i]), `${key} ${String(r[key])} ${f}_total`).toBeLessThanOrEqual(
              1e-9 * Math.max(1, want.total[i]),
            )
            expect(r[`${f}_peak`], `${key} ${String(r[key])} ${f}_peak`).toBe(want.peak[i])
          })
        }
      }
    }
    // the workloads that come and go make the per-poll sums differ: the peak of /proj/a is /proj/a/y's burst on top
    const a = rollups.find((r) => r.path === '/proj/a' && r.time === t0)!
    expect(a.iops_read_peak as number).toBeGreaterThan((a.iops_read_total as number) / PERIOD)
  })
  // Reads what the test above wrote: the raw points and the rollups of [t0, t0+60) and [t0+60, t0+120).
  it('GET /api/v1/activity: raw points and rollups on either side of the raw retention boundary add up exactly', async () => {
    const config = configFor(tempDir())
    // Raw retention of 1 h seen from t0 + 1 h + 60 s: the boundary is t0 + 60 (the test only moves the clock it tells).
    const range = createRangeSource({
      influx: { ...config.influx, retention: { raw: '1h', jobs: 'INF' } },
      intervalSeconds: POLL,
      rollupSeconds: PERIOD,
      now: () => (t0 + 3600 + 60) * 1000,
    })
    const q = createInfluxQL(config.influx)
    const [raw] = await q.query(`SELECT * FROM ${influxqlFrom(MEASUREMENT.activity)} WHERE "cluster" = 'sim'`)
    const rawRows = raw.series.flatMap((s) => s.rows)
    /** Ground truth from the raw points of the polls in (from, to]: totals and peaks per key. */
    const truth = (key: 'path' | 'client_ip' | 'cluster', from: number, to: number) => {
      const out: Sums = new Map()
      for (const byPeriod of fromRaw(
        rawRows.filter((r) => (r.time as number) > from && (r.time as number) <= to),
        key,
      ).values()) {
        for (const [k, v] of byPeriod) {
          const row = out.get(k) ?? { total: ACTIVITY_FIELDS.map(() => 0), peak: ACTIVITY_FIELDS.map(() => 0) }
          v.total.forEach((x, i) => (row.total[i] += x))
          v.peak.forEach((x, i) => (row.peak[i] = Math.max(row.peak[i], x)))
          out.set(k, row)
        }
      }
      return out
    }
    const cases = [
      { from: t0 + 5, to: t0 + 125, rollups: { from: t0, to: t0 + 60 }, raw: { from: t0 + 60, to: t0 + 130 } }, // across
      { from: t0, to: t0 + 50, rollups: { from: t0, to: t0 + 60 }, raw: undefined }, // before the boundary: whole periods
      { from: t0 + 60, to: t0 + 100, rollups: undefined, raw: { from: t0 + 60, to: t0 + 100 } }, // inside raw retention
    ]
    for (const c of cases) {
      for (const [by, key] of [
        ['path', 'path'],
        ['client', 'client_ip'],
        ['cluster', 'cluster'],
      ] as const) {
        const answer = await range({ cluster: 'sim', from: c.from, to: c.to, by })
        const { from, to, rollups, raw: rawPart } = answer
        expect({ from, to, rollups, raw: rawPart }).toEqual({
          from: (c.rollups ?? c.raw)!.from,
          to: (c.raw ?? c.rollups)!.to,
          rollups: c.rollups,
          raw: c.raw,
        })
        const want = truth(key, answer.from, answer.to)
        expect(answer.rows.map((r) => r.key).sort(), `${by} ${c.from - t0}…${c.to - t0}`).toEqual([...want.keys()].sort())
        for (const r of answer.rows) {
          const w = want.get(r.key)!
          ACTIVITY_FIELDS.forEach((f, i) => {
            const label = `${by} ${r.key} ${f} (${c.from - t0}…${c.to - t0})`
            expect(Math.abs(r.total[f] - w.total[i]), label).toBeLessThanOrEqual(1e-9 * Math.max(1, w.total[i]))
            expect(r.peak[f], label).toBe(w.peak[i])
          })
        }
      }
    }
    // The same through the API, and its one-line refusals.
    const { call } = await makeApp({ app: () => ({ range }) })
    const iso = (t: number) => new Date(t * 1000).toISOString()
    const res = await call('GET', `/api/v1/activity?cluster=sim&by=client&since=${iso(t0 + 5)}&until=${iso(t0 + 125)}`)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { from: string; to: string; rollups: unknown; raw: unknown; rows: unknown[] }
    const direct = await range({ cluster: 'sim', by: 'client', from: t0 + 5, to: t0 + 125 })
    expect(body).toEqual({
      ...direct,
      from: iso(t0),
      to: iso(t0 + 130),
      rollups: { from: iso(t0), to: iso(t0 + 60) },
      raw: { from: iso(t0 + 60), to: iso(t0 + 130) },
    })
    for (const [query, problem] of [
      [`since=${iso(t0)}&until=${iso(t0 - 60)}`, 'until must be after since'],
      [`since=${iso(t0)}&by=host`, 'by'],
      ['by=path', 'since'],
      [`since=${iso(t0)}&cluster=a%20b`, 'cluster'],
    ]) {
      const bad = await call('GET', `/api/v1/activity?${query}`)
      expect(bad.status, query).toBe(400)
      expect(((await bad.json()) as { error: { message: string } }).error.message, query).toContain(problem)
    }
  })

  it('survive kill -9 of `qactivity collect` mid-period: the period still sums exactly its raw points', async () => {
    const dataDir = tempDir()
    const env = {
      PATH: process.env.PATH ?? '',
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'admin',
      QUMULO_PASSWORD: 'admin',
      QUMULO_CLUSTER: 'kill',
      INFLUX_URL: influxd.url,
      INFLUX_BUCKET: 'rollup_kill',
      QACTIVITY_POLL_SECONDS: '1',
      QACTIVITY_ROLLUP_PERIOD: '1m',
      QACTIVITY_DATA_DIR: dataDir,
    }
    const collect = () => spawn(process.execPath, [BIN, 'collect'], { env, stdio: 'ignore' })
    const exited = (c: ChildProcess) => new Promise((r) => c.once('exit', r))
    const file = rollupFile(dataDir, 'kill')
    const saved = () =>
      existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { period: number; lastPoll: number; polls: number }) : undefined
    let child = collect()
    try {
      // A few polls into a period, then kill -9 just after a poll was saved: between polls, as most kills land.
      const before = await until(
        () => {
          const st = saved()
          return st && st.polls >= 3 && st
        },
        'three polls of a period',
        60_000,
      )
      const { period } = await until(() => {
        const st = saved()
        return st && st.lastPoll > before.lastPoll && st
      }, 'the next poll saved')
      child.kill('SIGKILL')
      await exited(child)
      child = collect()
      const q = createInfluxQL({ url: influxd.url, bucket: 'rollup_kill', queryLanguage: 'influxql' })
      const rollupOf = async () => {
        const [r] = await q
          .query(`SELECT * FROM ${influxqlFrom(MEASUREMENT.activityRollup)} WHERE time = ${period}s`)
          .catch(() => [undefined])
        return r?.series.flatMap((s) => s.rows) ?? []
      }
      const deadline = Date.now() + 120_000
      let rollups = await rollupOf()
      while (!rollups.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250))
        rollups = await rollupOf()
      }
      expect(rollups.length, 'the period was written after the restart').toBeGreaterThan(0)
      const [raw] = await q.query(
        `SELECT * FROM ${influxqlFrom(MEASUREMENT.activity)} WHERE time > ${period}s AND time <= ${period + PERIOD}s`,
      )
      const rawRows = raw.series.flatMap((s) => s.rows)
      const polls = new Set(rawRows.map((r) => r.time)).size
      const cluster = rollups.find((r) => r.path == null && r.client_ip == null)!
      expect(cluster.polls, 'every poll with raw points, none twice').toBe(polls)
      const want = fromRaw(rawRows, 'cluster', 1).get(period)!.get('kill')!
      ACTIVITY_FIELDS.forEach((f, i) => {
        expect(Math.abs((cluster[`${f}_total`] as number) - want.total[i]), f).toBeLessThanOrEqual(1e-9 * Math.max(1, want.total[i]))
        expect(cluster[`${f}_peak`], f).toBe(want.peak[i])
      })
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited(child)
      }
    }
  }, 180_000)
})
