import { clip, type Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { JobScope } from '../lib/job-scope.ts'
import type { JobBackfill } from './types.ts'
import { RunningIndex } from './running-index.ts'
import { jobScope } from './scope.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import { capacityLine, type CapacityFigures } from '../lib/capacity-points.ts'
import { JobError } from './errors.ts'
import { jobEventLine, type JobEvent } from './events.ts'
import { newJobId } from './ids.ts'
import type { JobStore } from './store.ts'
import type { EndStatus, Job, JobComment, JobStatus, StoreData } from './types.ts'

/** Queues Grafana annotations inside a store update (durable outbox) and wakes the sender. */
export interface AnnotationQueue {
  start(data: StoreData, jobId: string): void
  complete(data: StoreData, jobId: string): void
  comment(data: StoreData, jobId: string, commentIndex: number): void
  kick(): void
}

/** What the job service needs; everything but the store is optional so each part can be off. */
export interface JobServiceDeps {
  store: JobStore
  /** durable writer for `qactivity_job` and `qumulo_capacity` points */
  writer?: Pick<DurableWriter, 'write'>
  /** reads a path's aggregates on a cluster, for capacity snapshots */
  aggregates?: (cluster: string, path: string) => Promise<CapacityFigures>
  /** names of the configured clusters (Config.clusterNames): a job's `cluster` is one of them */
  clusters: readonly string[]
  /** poll interval, seconds: a completed job's paths stay watched until end + one interval @defaultValue 60 */
  intervalSeconds?: number
  annotations?: AnnotationQueue
  /** called after a job completed (schedules its summary) */
  onComplete?: (id: string) => void
  /** called after a job asked for a backfill (clients or paths attached late) */
  onBackfill?: (id: string) => void
  log: Logger
  /** epoch ms @defaultValue Date.now */
  now?: () => number
}

/** Who asks: the name of the API token, recorded as creator and comment author. */
export interface Actor {
  name: string
}

/** Validated input of `POST /api/v1/jobs`. */
export interface CreateJobInput {
  name: string
  id?: string
  /** one of the configured clusters; defaults to the only one */
  cluster?: string
  paths?: string[]
  clients?: string[]
  labels?: Record<string, string>
  comment?: string
  notify?: string[]
  /**
   * When the job started, if before now (default: now): a scheduler that learns of a job late (Slurm
   * sync) records its real start; the polls since then are backfilled. At most MAX_FUTURE_MS ahead.
   */
  startedAt?: Date
}

/** Filters of `GET /api/v1/jobs`. */
export interface ListInput {
  status?: JobStatus
  name?: string
  label?: string[]
  since?: Date
  until?: Date
  limit: number
  cursor?: string
}

/**
 * How far ahead of the server clock `complete`'s `at` may be. A client clock running a little fast is
 * tolerated; a later end would stretch the window over polls taken after the collector stopped
 * watching the job's paths, whose activity then no longer carries them.
 */
export const MAX_FUTURE_MS = 60_000

const union = (a: string[], b: string[] = []) => [...new Set([...a, ...b])]
const iso = (ms: number) => new Date(ms).toISOString()

/** The job operations of docs/interface.md §5, independent of HTTP. */
export class JobService {
  private readonly now: () => number
  private lastEventMs = 0
  /** Running jobs in list order: listing them and the collectors' job lists must not scan every job. */
  private readonly running = new RunningIndex()
  /**
   * Recently completed jobs, with their end (epoch ms): their paths stay watched until the first
   * poll stamped at or after end + one interval; forgotten soon after, so the map stays small.
   */
  private readonly ended = new Map<string, number>()
  /** Ids per job name (names never change): previous runs are looked up for every stats call and summary. */
  private readonly byName = new Map<string, Set<string>>()

  /** One poll interval in ms: how long after its end a completed job's paths stay watched. */
  private readonly graceMs: number
  /** the poll interval, ms */
  private readonly intervalMs: number

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? Date.now
    this.graceMs = this.intervalMs = (deps.intervalSeconds ?? 60) * 1000
    for (const j of Object.values(deps.store.data.jobs)) {
      this.legacyCluster(j)
      if (j.status === 'running') this.running.add(j)
      else if (j.endedAt) this.ended.set(j.id, Date.parse(j.endedAt))
      this.named(j)
    }
    this.forgetEnded(this.now())
  }

  /**
   * Jobs stored before jobs had a cluster belong to the one configured cluster; with several, to
   * none (`""`: they count every cluster's points, as they did). Set in memory; stored with the next write.
   */
  private legacyCluster(j: Job): Job {
    if (typeof j.cluster !== 'string') j.cluster = this.deps.clusters.length === 1 ? this.deps.clusters[0] : ''
    return j
  }

  /** The cluster of a new job: the one asked for, which must be configured, or the only one. */
  private clusterFor(asked: string | undefined): string {
    const known = this.deps.clusters
    if (asked !== undefined) {
      if (known.length && !known.includes(asked))
        throw new JobError('invalid_request', `cluster: "${asked}" is not a configured cluster (${known.join(', ')})`)
      return asked
    }
    if (known.length > 1)
      throw new JobError('invalid_request', `cluster: required when several clusters are configured (${known.join(', ')})`)
    return known[0] ?? ''
  }

  private named(job: Job): void {
    let ids = this.byName.get(job.name)
    if (!ids) this.byName.set(job.name, (ids = new Set()))
    ids.add(job.id)
  }

  private jobsWithStatus(status?: JobStatus): Job[] {
    const jobs = this.deps.store.data.jobs
    if (status !== 'running') return Object.values(jobs)
    return [...this.running.values()].map((id) => jobs[id]).filter((j) => j?.status === 'running')
  }

  get(id: string): Job {
    const job = this.deps.store.data.jobs[id]
    if (!job) throw new JobError('not_found', `job "${id}" not found`)
    return job
  }

  /** A job from the working set or, once completed long enough ago, from the archive. */
  async find(id: string): Promise<Job> {
    const job = this.deps.store.data.jobs[id] ?? (await this.deps.store.findArchived(id))
    if (!job) throw new JobError('not_found', `job "${id}" not found`)
    return this.legacyCluster(job)
  }

  /** Creates a job; replaying a create with the same id and name returns the job (attaching anything new). */
  async create(principal: Actor, input: CreateJobInput): Promise<{ job: Job; created: boolean }> {
    const at = this.now()
    const existing = input.id ? this.deps.store.data.jobs[input.id] : undefined
    const cluster = this.clusterFor(input.cluster ?? existing?.cluster)
    if (existing) return { job: await this.replayCreate(existing, { ...input, cluster }), created: false }
    if (input.id && (await this.deps.store.findArchived(input.id)))
      throw new JobError('conflict', `job "${input.id}" exists in the archive`)
    const id = input.id ?? newJobId(at)
    const start = input.startedAt ? input.startedAt.getTime() : at
    if (start > at + MAX_FUTURE_MS)
      throw new JobError('invalid_request', `startedAt: at most ${MAX_FUTURE_MS / 1000} s ahead of the server clock (${iso(at)})`)
    // A poll tick in (start, now]: its poll was attributed without this job (stats/backfill.ts fills it in).
    const missed = Math.floor(at / this.intervalMs) * this.intervalMs > start
    const job: Job = {
      id,
      name: input.name,
      cluster,
      status: 'running',
      startedAt: iso(start),
      endedAt: null,
      paths: union([], input.paths),
      clients: union([], input.clients),
      labels: input.labels ?? {},
      comments: input.comment ? [{ at: iso(at), author: principal.name, text: input.comment }] : [],
      notify: union([], input.notify),
      annotation: { state: this.deps.annotations ? 'pending' : 'off', comments: 0 },
      capacity: [],
      createdBy: principal.name,
      updatedAt: iso(at),
      ...(missed ? { backfill: { until: iso(at) } } : {}),
    }
    await this.deps.store.update(
      (d) => {
        if (d.jobs[id]) throw new JobError('conflict', `job "${id}" was created concurrently; retry`)
        d.jobs[id] = job
        this.running.add(job)
        this.named(job)
        this.deps.annotations?.start(d, id)
        if (job.comments.length) this.deps.annotations?.comment(d, id, 0)
      },
      [id],
    )
    this.afterChange(job, 'start', start, job.paths, input.comment)
    if (missed) this.deps.onBackfill?.(id)
    return { job, created: true }
  }

  private async replayCreate(job: Job, input: CreateJobInput): Promise<Job> {
    const conflicts = [
      job.name !== input.name && `name "${job.name}"`,
      job.cluster !== input.cluster && `cluster "${job.cluster}"`,
      input.startedAt && input.startedAt.getTime() !== Date.parse(job.startedAt) && `start ${job.startedAt}`,
      ...Object.entries(input.labels ?? {})
        .filter(([k, v]) => k in job.labels && job.labels[k] !== v)
        .map(([k]) => `label ${k}`),
    ].filter(Boolean)
    if (conflicts.length) throw new JobError('conflict', `job "${job.id}" exists with another ${conflicts.join(', ')}`, { job: job.id })
    const newPaths = (input.paths ?? []).filter((p) => !job.paths.includes(p))
    const newClients = (input.clients ?? []).filter((c) => !job.clients.includes(c))
    if (!newPaths.length && !newClients.length) return job
    if (job.status !== 'running') throw new JobError('conflict', `job "${job.id}" is ${job.status}; nothing can be attached`)
    return this.attach(job.id, newPaths, newClients)
  }

  addPaths(id: string, paths: string[]): Promise<Job> {
    return this.attach(id, paths, [])
  }

  addClients(id: string, clients: string[]): Promise<Job> {
    return this.attach(id, [], clients)
  }

  private async attach(id: string, paths: string[], clients: string[]): Promise<Job> {
    const at = this.now()
    const job = this.get(id)
    const newPaths = paths.filter((p) => !job.paths.includes(p))
    const newClients = clients.filter((c) => !job.clients.includes(c))
    if (!newPaths.length && !newClients.length) return job
    if (job.status !== 'running') throw new JobError('conflict', `job "${id}" is ${job.status}; nothing can be attached`)
    // A poll tick in (start, at]: its poll may have been attributed before this attachment.
    const polledSince = Math.floor(at / this.intervalMs) * this.intervalMs > Date.parse(job.startedAt)
    await this.deps.store.update(
      (d) => {
        const j = d.jobs[id]
        j.paths = union(j.paths, newPaths)
        j.clients = union(j.clients, newClients)
        j.updatedAt = iso(at)
        // A poll since the start was attributed without them (stats/backfill.ts fills them in). None
        // yet (attached before the first tick after the start): the next poll has them, nothing to fill.
        if (polledSince) j.backfill = widened(j.backfill, { until: iso(at) })
      },
      [id],
    )
    if (polledSince) this.deps.onBackfill?.(id)
    this.snapshot(id, newPaths, 'start')
    return this.get(id)
  }

  async comment(principal: Actor, id: string, text: string): Promise<JobComment> {
    const at = this.now()
    this.get(id)
    const comment: JobComment = { at: iso(at), author: principal.name, text }
    await this.deps.store.update(
      (d) => {
        const j = d.jobs[id]
        j.comments.push(comment)
        j.updatedAt = iso(at)
        this.deps.annotations?.comment(d, id, j.comments.length - 1)
      },
      [id],
    )
    this.afterChange(this.get(id), 'comment', at, [], text)
    return comment
  }

  async complete(id: string, status: EndStatus, at?: Date, labels?: Record<string, string>): Promise<Job> {
    const now = this.now()
    const job = this.get(id)
    if (job.status !== 'running') throw new JobError('conflict', `job "${id}" is already ${job.status} (at ${job.endedAt})`)
    const end = at ? at.getTime() : now
    if (end < Date.parse(job.startedAt)) throw new JobError('invalid_request', `at: must not be before the job started (${job.startedAt})`)
    if (end > now + MAX_FUTURE_MS)
      throw new JobError('invalid_request', `at: must not be more than ${MAX_FUTURE_MS / 1000} s ahead of the server clock (${iso(now)})`)
    await this.deps.store.update(
      (d) => {
        const j = d.jobs[id]
        if (j.status !== 'running') throw new JobError('conflict', `job "${id}" is already ${j.status}`)
        j.status = status
        if (labels) j.labels = { ...j.labels, ...labels }
        this.running.delete(j)
        this.forgetEnded(now)
        this.ended.set(id, end)
        j.endedAt = iso(end)
        j.updatedAt = iso(now)
        this.deps.annotations?.complete(d, id)
      },
      [id],
    )
    this.afterChange(this.get(id), 'complete', end, [])
    this.snapshot(id, job.paths, 'end')
    this.deps.onComplete?.(id)
    return this.get(id)
  }

  /** Newest first by start time, then id; the cursor is the last (startedAt, id) of the previous page. */
  list(q: ListInput): { jobs: Job[]; nextCursor: string | null } {
    const after = q.cursor ? decodeCursor(q.cursor) : undefined
    const labels = (q.label ?? []).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)])
    const matches = (j: Job) =>
      (!q.status || j.status === q.status) &&
      (!q.name || j.name === q.name) &&
      labels.every(([k, v]) => j.labels[k] === v) &&
      (!q.since || Date.parse(j.startedAt) >= q.since.getTime()) &&
      (!q.until || Date.parse(j.startedAt) < q.until.getTime()) &&
      (!after || j.startedAt < after.startedAt || (j.startedAt === after.startedAt && j.id < after.id))
    const page: Job[] = []
    let more = false
    if (q.status === 'running') {
      // Already in list order: the page is the first `limit` matches after the cursor.
      const jobs = this.deps.store.data.jobs
      for (const id of this.running.newestFirst(after)) {
        const j = jobs[id]
        if (!j || !matches(j)) continue
        if (page.length === q.limit) {
          more = true
          break
        }
        page.push(j)
      }
    } else {
      // The first `limit` in list order, kept sorted as they are found: one pass, no sort of every job.
      const before = (a: Job, b: Job) => (a.startedAt === b.startedAt ? a.id > b.id : a.startedAt > b.startedAt)
      for (const j of this.jobsWithStatus(q.status)) {
        if (!matches(j)) continue
        if (page.length === q.limit && !before(j, page[page.length - 1])) {
          more = true
          continue
        }
        let i = page.length
        while (i > 0 && before(j, page[i - 1])) i--
        page.splice(i, 0, j)
        if (page.length > q.limit) {
          page.pop()
          more = true
        }
      }
    }
    const last = page.at(-1)
    return { jobs: page, nextCursor: more && last ? encodeCursor(last) : null }
  }

  /** Earlier jobs of `name` started before `before`, newest first (for "the previous runs"). */
  previousRuns(name: string, before: string, excludeId: string): Job[] {
    const jobs = this.deps.store.data.jobs
    // Archived jobs have left the store: their ids are skipped (and forgotten).
    const ids = this.byName.get(name) ?? new Set<string>()
    const out: Job[] = []
    for (const id of ids) {
      const j = jobs[id]
      if (!j) ids.delete(id)
      else if (j.id !== excludeId && j.startedAt < before) out.push(j)
    }
    return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1))
  }

  /** Every job in the store (not the archive), for reads over all of them (usage). */
  allJobs(): Iterable<Job> {
    return Object.values(this.deps.store.data.jobs)
  }

  /** Running jobs, from the index (no scan of every job). */
  runningJobs(): Job[] {
    return this.jobsWithStatus('running')
  }

  /**
   * The jobs a cluster's poll stamped `tickS` (epoch s) attributes activity to and watches the paths
   * of: the cluster's running jobs, and its jobs completed less than one poll interval before the
   * tick, since that poll's interval (tick − I, tick] still overlaps their window (README, "Window
   * edges"). Jobs without a cluster belong to every cluster.
   */
  jobScopes(cluster: string, tickS: number): JobScope[] {
    const jobs = this.deps.store.data.jobs
    const out: JobScope[] = []
    const add = (j: Job | undefined) => {
      if (j && (j.cluster === cluster || j.cluster === '')) out.push(jobScope(j))
    }
    for (const j of this.runningJobs()) add(j)
    this.forgetEnded(tickS * 1000)
    for (const [id, endMs] of this.ended) if (tickS * 1000 < endMs + this.graceMs) add(jobs[id])
    return out
  }

  /**
   * After a cluster's poll stamped `tickS` attributed with the job list given for the poll `sinceS`
   * (the list came too late): every running job of the cluster created or changed since `sinceS`
   * asks for a backfill up to the tick (stats/backfill.ts), so that poll is not missing from it.
   */
  async backfillMissed(cluster: string, tickS: number, sinceS: number): Promise<void> {
    const since = sinceS * 1000
    // Running ones, and those completed since (a job shorter than the stale stretch has no other poll).
    const ended = [...this.ended.keys()].map((id) => this.deps.store.data.jobs[id]).filter((j): j is Job => j !== undefined)
    const ids = [...this.runningJobs(), ...ended]
      .filter((j) => (j.cluster === cluster || j.cluster === '') && (Date.parse(j.startedAt) >= since || Date.parse(j.updatedAt) >= since))
      .map((j) => j.id)
    if (!ids.length) return
    const until = tickS * 1000
    await this.deps.store.update((d) => {
      for (const id of ids) {
        const j = d.jobs[id]
        // Only the polls since the list the collector used: a restart's first late answer costs one poll per job, not all.
        if (j) j.backfill = widened(j.backfill, { until: iso(until), from: iso(Math.max(since, Date.parse(j.startedAt))) })
      }
    }, ids)
    for (const id of ids) this.deps.onBackfill?.(id)
    this.deps.log.warn('A poll used an earlier job list; the jobs created or changed since are backfilled', { cluster, jobs: ids.length })
  }

  /** The paths of {@link jobScopes}: what the cluster's poll stamped `tickS` watches for its jobs. */
  watchedPaths(cluster: string, tickS: number): string[] {
    return [...new Set(this.jobScopes(cluster, tickS).flatMap((j) => j.paths))]
  }

  /**
   * Forgets completed jobs two intervals past their end (one more than needed: another cluster's
   * poll of an earlier tick may still ask). Called at start, on every completion (a lone `api` has no
   * collector asking) and on every poll.
   */
  private forgetEnded(nowMs: number): void {
    for (const [id, endMs] of this.ended) if (nowMs >= endMs + 2 * this.graceMs) this.ended.delete(id)
  }

  /** Event point (durable before it is acknowledged by the writer) and annotation wake-up. */
  private afterChange(job: Job, event: JobEvent, atMs: number, newPaths: string[], comment?: string): void {
    // Two events of one job in the same millisecond would merge into one point: keep times distinct.
    // (Only events around the newest one can collide: a back-dated start or end keeps its own time.)
    const t = atMs <= this.lastEventMs && this.lastEventMs - atMs < 1000 ? this.lastEventMs + 1 : atMs
    this.lastEventMs = Math.max(this.lastEventMs, t)
    this.write([jobEventLine(job, event, t, comment)])
    if (event === 'start') this.snapshot(job.id, newPaths, 'start')
    this.deps.annotations?.kick()
  }

  private write(lines: string[]): void {
    this.deps.writer?.write(lines).catch((err) => this.deps.log.error('Job event not spooled', { error: messageOf(err) }))
  }

  /** Reads each path's aggregates now and records them on the job and as `qumulo_capacity` points (in the background). */
  private snapshot(id: string, paths: string[], which: 'start' | 'end'): void {
    const read = this.deps.aggregates
    const cluster = this.get(id).cluster
    if (!read || !paths.length || !cluster) return
    void Promise.all(
      paths.map(async (path) => {
        const sent = this.now()
        let at = sent
        try {
          const a = await read(cluster, path)
          // Qumulo answered somewhere between sending and receiving: the midpoint is the best estimate.
          at = Math.round((sent + this.now()) / 2)
          await this.recordCapacity(id, path, which, {
            at: iso(at),
            usedBytes: String(a.totalCapacity),
            files: String(a.totalFiles),
            directories: String(a.totalDirectories),
          })
          this.write([capacityLine(cluster, path, a, Math.floor(at / 1000))])
        } catch (err) {
          this.deps.log.warn('Capacity snapshot failed', { job: id, path: clip(path), which, error: messageOf(err) })
          await this.recordCapacity(id, path, which, undefined, messageOf(err)).catch(() => {})
        }
      }),
    )
  }

  private recordCapacity(id: string, path: string, which: 'start' | 'end', reading?: Job['capacity'][number]['start'], error?: string) {
    return this.deps.store.update(
      (d) => {
        const j = d.jobs[id]
        if (!j) return
        let entry = j.capacity.find((c) => c.path === path)
        if (!entry) j.capacity.push((entry = { path }))
        if (reading) {
          entry[which] = reading
          delete entry.error
        } else entry.error = `${which}: ${error}`
      },
      [id],
    )
  }
}

function encodeCursor(job: Job): string {
  return Buffer.from(`${job.startedAt}|${job.id}`).toString('base64url')
}

/** A backfill request covering both: the later `until`, the earlier `from` (none: from the start). */
function widened(a: JobBackfill | undefined, b: JobBackfill): JobBackfill {
  if (!a) return b
  const until = a.until > b.until ? a.until : b.until
  if (a.from === undefined || b.from === undefined) return { until }
  return { until, from: a.from < b.from ? a.from : b.from }
}

function decodeCursor(cursor: string): { startedAt: string; id: string } {
  const [startedAt, id] = Buffer.from(cursor, 'base64url').toString().split('|')
  if (!id || Number.isNaN(Date.parse(startedAt))) throw new JobError('invalid_request', 'cursor: malformed cursor')
  return { startedAt, id }
}
