import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { messageOf } from '../lib/errors.ts'
import { fsyncDir } from '../lib/fsync.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import { ACTIVITY_FIELDS, MEASUREMENT, RAW_WINDOW_SECONDS } from '../lib/schema.ts'
import { countOf, type ActivitySeries } from './activity.ts'

/**
 * Exact rollups of raw activity, computed from the polls themselves (docs/interface.md §4
 * `qumulo_activity_rollup`; README "Sizing and retention"). The period [P, P+H) holds the polls
 * stamped in (P, P+H] — each poll stands for (t − I, t] — so with H a multiple of I a period's rollup
 * covers exactly its hour, and raw before a period boundary plus rollups after it add up exactly.
 *
 * One row per (cluster, path), one per (cluster, client_ip) and one for the whole cluster, stamped P:
 * `<field>_total` = Σ rate × I (ops or bytes), `<field>_peak` = the highest per-poll sum of the row
 * (ops/s or bytes/s; the cluster's is not the sum of its paths' peaks), `polls`.
 * A period is written with the first poll after it, in the same write as that poll's raw points, so
 * the writer delivers it after every raw point it sums and never one without the other.
 */
export interface RollupRow {
  /** Σ rate × I per field, {@link ACTIVITY_FIELDS} order: operations or bytes */
  total: number[]
  /** highest per-poll sum per field: ops/s or bytes/s */
  peak: number[]
}

/** The period being summed: what {@link RollupState} files hold. */
export interface RollupState {
  /** start of the period, epoch s (a multiple of the period) */
  period: number
  /** the period's length H, seconds (a state of another H is over once H changes) */
  periodSeconds?: number
  /** poll time of the last poll summed, epoch s (0: none yet) */
  lastPoll: number
  /** polls summed */
  polls: number
  paths: Record<string, RollupRow>
  clients: Record<string, RollupRow>
  /** the whole cluster (one row, under the key "") */
  cluster?: Record<string, RollupRow>
}

const N = ACTIVITY_FIELDS.length
const Row = z.object({ total: z.array(z.number()).length(N), peak: z.array(z.number()).length(N) })
const State = z.object({
  period: z.number().int().nonnegative(),
  periodSeconds: z.number().int().positive().optional(),
  lastPoll: z.number().nonnegative(),
  polls: z.number().int().nonnegative(),
  paths: z.record(z.string(), Row),
  clients: z.record(z.string(), Row),
  cluster: z.record(z.string(), Row).optional(),
})

/** Start (epoch s) of the period that the poll stamped `time` belongs to: the one whose (P, P+H] holds it. */
export function periodOf(time: number, periodSeconds: number): number {
  return Math.ceil(time / periodSeconds) * periodSeconds - periodSeconds
}

/**
 * Sums `series` per key (path or client) for one poll, as the stored counts (integers, exact): a
 * peak is then the very number a reader gets from the raw points, Σ count / 60.
 */
function perPoll(series: readonly ActivitySeries[], key: (s: ActivitySeries) => string): Map<string, Float64Array> {
  const sums = new Map<string, Float64Array>()
  for (const s of series) {
    const k = key(s)
    let sum = sums.get(k)
    if (!sum) sums.set(k, (sum = new Float64Array(N)))
    for (let i = 0; i < N; i++) sum[i] += countOf(s.rates[i])
  }
  return sums
}

function addPoll(rows: Record<string, RollupRow>, counts: Map<string, Float64Array>, intervalSeconds: number): void {
  for (const [k, count] of counts) {
    const row = (rows[k] ??= { total: new Array<number>(N).fill(0), peak: new Array<number>(N).fill(0) })
    for (let i = 0; i < N; i++) {
      const rate = count[i] / RAW_WINDOW_SECONDS
      row.total[i] += rate * intervalSeconds
      if (rate > row.peak[i]) row.peak[i] = rate
    }
  }
}

/** The `qumulo_activity_rollup` lines of a period. */
export function rollupLines(state: RollupState, cluster: string): string[] {
  const line = (tags: Record<string, string>, row: RollupRow) => {
    const fields: Record<string, number | bigint> = { polls: BigInt(state.polls) }
    ACTIVITY_FIELDS.forEach((f, i) => {
      fields[`${f}_total`] = row.total[i]
      fields[`${f}_peak`] = row.peak[i]
    })
    return toLine({ measurement: MEASUREMENT.activityRollup, tags: { cluster, ...tags }, fields, time: state.period })
  }
  return [
    ...Object.entries(state.paths).map(([path, row]) => line({ path }, row)),
    ...Object.entries(state.clients).map(([client_ip, row]) => line({ client_ip }, row)),
    ...Object.values(state.cluster ?? {}).map((row) => line({}, row)),
  ]
}

/** What one poll does to the rollup: the lines to write with it, and the state once they are written. */
export interface RollupStep {
  /** `qumulo_activity_rollup` lines of the periods this poll completed (write them with the poll's points) */
  lines: string[]
  /** the state to keep once the write is accepted ({@link Rollup.commit}); undefined: the poll is not summed */
  next?: RollupState
}

/**
 * The running rollup of one cluster's collector, kept in `file` across restarts (written after each
 * accepted poll; a poll whose write the spool refused is summed neither in raw nor here).
 */
export class Rollup {
  private state: RollupState | undefined
  private loaded = false

  constructor(
    private readonly cluster: string,
    /** rollup period H, seconds (`QACTIVITY_ROLLUP_PERIOD`), a multiple of the poll interval */
    readonly periodSeconds: number,
    /** poll interval I, seconds */
    readonly intervalSeconds: number,
    /** where the running period is kept; undefined: memory only */
    private readonly file?: string,
  ) {}

  /**
   * The step for the poll stamped `time` with the (post-budget) series it wrote. A poll of a later
   * period completes the running one: its lines are returned. A poll earlier than the running period
   * (the clock went back) is not summed: rewriting a finished period with a part of it would undo it.
   */
  async step(time: number, series: readonly ActivitySeries[] | undefined, onProblem?: (message: string) => void): Promise<RollupStep> {
    const cur = await this.current(onProblem)
    const period = periodOf(time, this.periodSeconds)
    // A state saved with another QACTIVITY_ROLLUP_PERIOD is over: written as it stands, the new period starts.
    const sameH = cur?.periodSeconds === undefined || cur.periodSeconds === this.periodSeconds
    if (cur && (time <= cur.lastPoll || (sameH && period < cur.period))) return { lines: [] }
    const done = cur && (period > cur.period || !sameH) ? cur : undefined
    const next: RollupState =
      cur && !done ? structuredClone(cur) : { period, periodSeconds: this.periodSeconds, lastPoll: 0, polls: 0, paths: {}, clients: {} }
    // A poll without activity (Qumulo did not answer) wrote no raw points: it completes a period, it is not summed.
    if (series) {
      next.lastPoll = time
      next.polls++
      const add = (rows: Record<string, RollupRow>, key: (s: ActivitySeries) => string) =>
        addPoll(rows, perPoll(series, key), this.intervalSeconds)
      add(next.paths, (s) => s.path)
      add(next.clients, (s) => s.clientIp)
      add((next.cluster ??= {}), () => '')
    }
    return { lines: done && done.polls ? rollupLines(done, this.cluster) : [], next }
  }

  /**
   * Keeps `step.next` (the poll's write was accepted) and saves it. A failed save is thrown, the
   * memory kept, and the older file removed if it can be: after a restart it could hold a period
   * already written in full, and writing it again from that older state would undo the full one.
   */
  async commit(step: RollupStep): Promise<void> {
    if (!step.next) return
    this.state = step.next
    if (!this.file) return
    try {
      await saveState(this.file, this.state)
    } catch (err) {
      await unlink(this.file).catch(() => {})
      throw err
    }
  }

  /**
   * The running period. A saved one that cannot be read is moved to `<file>.bad` and told to
   * `onProblem` once: the period starts afresh (its rollup then lacks the polls before), polling goes on.
   */
  async current(onProblem?: (message: string) => void): Promise<RollupState | undefined> {
    if (!this.loaded) {
      this.loaded = true
      if (this.file) {
        try {
          this.state = await loadState(this.file)
        } catch (err) {
          onProblem?.(`${messageOf(err)}; moved to ${this.file}.bad`)
          await rename(this.file, `${this.file}.bad`).catch(() => {})
        }
      }
    }
    return this.state
  }
}

/** Where a cluster's running period is kept: `<data dir>/rollup/<cluster>.json` (the name URI-encoded). */
export function rollupFile(dataDir: string, cluster: string): string {
  return join(dataDir, 'rollup', `${encodeURIComponent(cluster || '_')}.json`)
}

/** Reads a saved running period; a missing file is none, an unreadable one an error naming it. */
export async function loadState(file: string): Promise<RollupState | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new Error(`${file}: not JSON; move it away to start the running rollup period afresh`)
  }
  const r = State.safeParse(parsed)
  if (!r.success) throw new Error(`${file}: not a rollup state (${r.error.issues[0]?.message}); move it away to start afresh`)
  return r.data
}

async function saveState(file: string, state: RollupState): Promise<void> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true })
  const tmp = `${file}.tmp`
  await writeFile(tmp, JSON.stringify(state), { flush: true })
  await rename(tmp, file)
  await fsyncDir(dir)
}
