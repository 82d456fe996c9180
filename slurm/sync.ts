import { watch, type FSWatcher } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import pLimit from 'p-limit'
import { messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { startPump, type Pump } from '../lib/pump.ts'
import { desiredFromRecord, jobName, labelsOf, pathFor, statusOf, type DesiredJob, type MappingOptions } from './mapping.ts'
import { expandHostlist } from './hostlist.ts'
import type { SlurmCommands } from './commands.ts'
import type { SlurmRecord } from './records.ts'
import { readSpool, removeEvents, type HookEvent } from './spool.ts'

/** A job as the sync asks the API to create it (`POST /api/v1/jobs`). */
export interface CreateRequest {
  id: string
  name: string
  labels: Record<string, string>
  startedAt: string
  clients: string[]
  paths: string[]
  cluster?: string
}

/** The job API as the sync uses it; cli/slurm.ts implements it over HTTP. */
export interface SyncApi {
  /** ids of the running jobs carrying all these labels (`k:v`) */
  running(labels: string[]): Promise<Set<string>>
  /** creates the job or returns the one with that id; throws {@link ConflictError} when it exists with other attributes */
  create(job: CreateRequest): Promise<{ status: string }>
  /** attaches more clients to a running job (the create takes at most {@link MAX_CLIENTS_PER_CALL}) */
  addClients(id: string, clients: string[]): Promise<void>
  /** completes it; `'already'` when it was completed before; throws {@link ConflictError} when it does not exist */
  complete(id: string, body: { status: string; at: string; labels: Record<string, string> }): Promise<'done' | 'already'>
  /** tells the API's `/healthz` how the sync is doing */
  report(r: SyncReport): Promise<void>
}

/** Clients one create or attach call takes (the API's limit). */
export const MAX_CLIENTS_PER_CALL = 256

/** The API refused for good (the id exists with other attributes, or in the archive): retrying cannot help. */
export class ConflictError extends Error {}

/** What the sync tells `/healthz` (`PUT /api/v1/slurm/status`). */
export interface SyncReport {
  /** Slurm's ClusterName */
  slurmCluster: string
  /** seconds between full reconciliations */
  periodSeconds: number
  /** end of the last full reconciliation that read Slurm and reached the API, ISO */
  lastSync?: string
  /** creates and completions the sync made since it started */
  reconciled: number
  /** hook events not yet handled */
  pendingEvents: number
  /** the last round failed */
  failing: boolean
  /** last error (sync or hook), one line */
  lastError?: string
  lastErrorAt?: string
}

export interface SyncOptions {
  slurm: SlurmCommands
  api: SyncApi
  /** node names → client addresses (slurm/nodes.ts) */
  addresses: (nodes: string[]) => Promise<{ clients: string[]; problems: string[] }>
  spoolDir: string
  mapping: Omit<MappingOptions, 'slurmCluster'>
  /** the Qumulo cluster of these jobs (`QACTIVITY_SLURM_CLUSTER`) */
  cluster?: string
  periodSeconds: number
  log: Logger
  now?: () => number
}

export interface RoundResult {
  /** jobs created in the API this round */
  created: number
  completed: number
  /** events left for a later round (an end whose final state Slurm has not recorded yet, an API failure) */
  pending: number
  problems: string[]
  /** of `pending`, the notes waiting for Slurm's record (a start or final state not recorded yet): looked at again within a second */
  waitingOnSlurm: number
  /** API calls that failed this round (internal: after three the rest wait) */
  apiFailures: number
}

/** `123.2` → [`123`, 2]; `123_4` → [`123_4`, 0] (array task and component ids have no dot). */
function splitRun(id: string): [string, number] {
  const m = /^(.*)\.(\d+)$/.exec(id)
  return m ? [m[1], Number(m[2])] : [id, 0]
}

/** An event round asks Slurm about at most this many jobs (scontrol, one each); more are read with a full listing. */
const MAX_NAMED_JOBS = 200
/** Notes one round looks at, oldest first: a backlog after a long outage is worked off in slices. */
const MAX_NOTES_PER_ROUND = 5000
/** A job the API failed for is asked about again after this, doubling up to the sync period. */
const RETRY_MIN_MS = 2000
/** Reports to the API at most this often, but always after a full round and when failing changes. */
const REPORT_EVERY_MS = 5000

/** The restart count a hook saw. */
const countOf = (e: HookEvent) => Number(e.env.SLURM_JOB_RESTART_COUNT ?? 0) || 0

/** The qactivity id of run `run` of a hook event's job (mirrors SlurmRecord.id). */
function eventId(e: HookEvent, run: number, prefix: string): string {
  const v = e.env
  const base =
    v.SLURM_ARRAY_JOB_ID && v.SLURM_ARRAY_TASK_ID
      ? `${v.SLURM_ARRAY_JOB_ID}_${v.SLURM_ARRAY_TASK_ID}`
      : v.SLURM_HET_JOB_ID && v.SLURM_HET_JOB_OFFSET
        ? `${v.SLURM_HET_JOB_ID}+${v.SLURM_HET_JOB_OFFSET}`
        : String(e.jobId)
  return `${prefix}${run > 0 ? `${base}.${run}` : base}`
}

/**
 * The job of a run Slurm no longer describes (it was requeued, or forgotten after MinJobAge), from
 * what its hooks saw: the prolog's time is its start, the epilog's its end.
 */
function desiredFromEvents(
  run: HookEvent[],
  k: number,
  o: MappingOptions,
  endedBy?: { at: number; state: string },
): DesiredJob | undefined {
  const prolog = run.find((e) => e.kind === 'prolog')
  const epilog = run.find((e) => e.kind === 'epilog')
  const any = prolog ?? epilog!
  const v = any.env
  const end = endedBy?.at ?? epilog?.atMs
  // The exit code is the epilog's (a prolog has none); a signal without Slurm's record cannot tell a cancel from a timeout.
  const [exit, signal] = (epilog?.env.SLURM_JOB_EXIT_CODE2 ?? '0:0').split(':').map(Number)
  const state = endedBy?.state ?? (exit ? 'FAILED' : signal ? 'UNKNOWN' : 'COMPLETED')
  const path = pathFor(v.SLURM_JOB_WORK_DIR ?? '', o.mounts)
  return {
    id: eventId(any, k, o.idPrefix),
    name: jobName(v.SLURM_JOB_NAME ?? '', any.jobId),
    labels: labelsOf(
      { user: v.SLURM_JOB_USER ?? '', account: v.SLURM_JOB_ACCOUNT ?? '', partition: v.SLURM_JOB_PARTITION ?? '' },
      o.slurmCluster,
    ),
    startedAt: new Date(prolog ? prolog.atMs : (end ?? Date.now())).toISOString(),
    nodes: v.SLURM_JOB_NODELIST ? expandHostlist(v.SLURM_JOB_NODELIST) : [],
    paths: path ? [path] : [],
    ...(end !== undefined ? { end: { at: new Date(end).toISOString(), status: statusOf(state), state } } : {}),
  }
}

/**
 * `qactivity slurm sync`: keeps the job API in line with Slurm's own records. A round reads the hook
 * spool and Slurm (`squeue --json`: every job in a full round, every `QACTIVITY_SLURM_SYNC_SECONDS`;
 * only the spooled jobs in between, within a second of a hook), then creates the jobs that started
 * (with Slurm's StartTime, node addresses and mapped work directory) and completes the ones that
 * ended (Slurm's EndTime, status from the final state). Every step is idempotent: a round that fails
 * halfway is repeated, and the hook events stay until the API has what they say.
 */
export function createSlurmSync(o: SyncOptions) {
  const now = o.now ?? Date.now
  const limit = pLimit(8)
  /** what the API is known to have, so a full round does not ask about 10,000 running jobs again */
  const settled = new Map<string, 'running' | 'ended'>()
  /** ids the API refused for good, logged once */
  const refused = new Set<string>()
  /** ids the API failed for: not asked about again before this time (ms), and the last wait */
  const retry = new Map<string, { at: number; waitMs: number }>()
  /** running jobs Slurm did not list in the last full round: completed when missing from two in a row */
  let missingBefore = new Set<string>()
  let slurmCluster: string | undefined
  let reconciled = 0
  let lastSync: number | undefined
  let lastError: { text: string; at: number } | undefined
  let failing = false
  let pendingEvents = 0
  /**
   * Notes kept for later: when a spool round looks at each again (a full round looks at all). A note
   * waiting for Slurm's final state is looked at after 1 s, then 2, 4… up to the sync period; one of
   * a job Slurm does not know waits for the full round; one the API failed for, for its backoff.
   */
  const nextLook = new Map<string, { at: number; waitMs: number }>()
  let hookLogSize: number | undefined
  let nextFullAt = 0
  let reportedAt = 0
  let reportedFailing = false
  const startedAt = now()

  const fail = (text: string) => {
    lastError = { text: text.slice(0, 1900), at: now() }
    o.log.warn('Slurm sync', { error: text })
  }
  /** The round's problems as the last error (already logged one by one). */
  const note = (problems: string[]) => {
    const more = problems.length > 3 ? ` (+${problems.length - 3} more)` : ''
    lastError = { text: (problems.slice(0, 3).join('; ') + more).slice(0, 1900), at: now() }
  }

  /** New lines in the hooks' log: a hook could not write its event. */
  async function readHookLog(): Promise<void> {
    const file = join(o.spoolDir, 'hooks.log')
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    )
    // At the first look, what is there already was written while the sync was not running: reported too.
    if (size > (hookLogSize ?? 0)) {
      const text =
        (await readFile(file, 'utf8'))
          .slice(hookLogSize ?? 0)
          .trim()
          .split('\n')
          .at(-1) ?? ''
      fail(`hook: ${text.slice(0, 300)}`)
    }
    hookLogSize = size
  }

  /** Brings the API in line with one desired job; true when it has all of it (its notes may go). */
  async function reconcile(d: DesiredJob, result: RoundResult): Promise<boolean> {
    if (refused.has(d.id)) return true
    if ((retry.get(d.id)?.at ?? 0) > now()) return false
    // An API that failed three calls this round is down or hanging: the rest wait for the next round.
    if (result.apiFailures >= 3) return false
    try {
      let state = settled.get(d.id)
      let complete = true
      if (state === undefined) {
        const { clients, problems } = await o.addresses(d.nodes)
        for (const p of problems) result.problems.push(`job ${d.id}: ${p}`)
        const job = await o.api.create({
          id: d.id,
          name: d.name,
          labels: d.labels,
          startedAt: d.startedAt,
          clients: clients.slice(0, MAX_CLIENTS_PER_CALL),
          paths: d.paths,
          ...(o.cluster ? { cluster: o.cluster } : {}),
        })
        state = job.status === 'running' ? 'running' : 'ended'
        for (let i = MAX_CLIENTS_PER_CALL; state === 'running' && i < clients.length; i += MAX_CLIENTS_PER_CALL)
          await o.api.addClients(d.id, clients.slice(i, i + MAX_CLIENTS_PER_CALL))
        // A node without an address yet: asked again later (a replayed create attaches what is new).
        if (problems.length && state === 'running') complete = false
        else settled.set(d.id, state)
        if (state === 'running') result.created++
      }
      if (state === 'running' && d.end) {
        const r = await o.api.complete(d.id, { status: d.end.status, at: d.end.at, labels: { slurm_state: d.end.state } })
        settled.set(d.id, 'ended')
        complete = true
        if (r === 'done') result.completed++
      }
      if (complete) retry.delete(d.id)
      else backoff(d.id)
      return complete
    } catch (err) {
      result.problems.push(`job ${d.id}: ${messageOf(err)}`)
      if (err instanceof ConflictError) {
        refused.add(d.id)
        return true
      }
      result.apiFailures++
      backoff(d.id)
      return false
    }
  }

  function backoff(id: string): void {
    const waitMs = Math.min(o.periodSeconds * 1000, 2 * (retry.get(id)?.waitMs ?? RETRY_MIN_MS / 2))
    retry.set(id, { at: now() + waitMs, waitMs })
  }

  /** One round: every Slurm job (`full`) or only the spooled ones. */
  async function round(full: boolean): Promise<RoundResult> {
    const result: RoundResult = { created: 0, completed: 0, pending: 0, waitingOnSlurm: 0, problems: [], apiFailures: 0 }
    await readHookLog().catch((err) => result.problems.push(`hooks.log: ${messageOf(err)}`))
    const spoolReadAt = now()
    // A spool round reads only the notes that are due.
    const spool = await readSpool(o.spoolDir, {
      wanted: (f) => full || (nextLook.get(f)?.at ?? 0) <= spoolReadAt,
      max: MAX_NOTES_PER_ROUND,
    })
    result.problems.push(...spool.problems)
    if (full) {
      const present = new Set(spool.files)
      for (const f of nextLook.keys()) if (!present.has(f)) nextLook.delete(f)
    }
    const events = spool.events
    if (!full && !events.length) return result
    slurmCluster ??= await o.slurm.clusterName()
    const mapping: MappingOptions = { ...o.mapping, slurmCluster }
    // Listed before Slurm is read: a job created after Slurm was read is never taken for one Slurm forgot.
    const running = full ? await o.api.running([`slurm_cluster:${slurmCluster}`]) : undefined
    if (running) {
      for (const [id, s] of settled) if (s === 'running' && !running.has(id)) settled.delete(id)
      for (const id of running) if (!settled.has(id)) settled.set(id, 'running')
    }
    // Many jobs at once (a large array starting): one listing of everything is cheaper than naming them.
    const ids = [...new Set(events.map((e) => e.jobId))]
    const records = full || ids.length > MAX_NAMED_JOBS ? await o.slurm.jobs() : await o.slurm.jobsNamed(ids)
    const recordOf = new Map<number, SlurmRecord>(records.map((r) => [r.jobId, r]))
    const desired = new Map<string, { job: DesiredJob; files: string[] }>()
    for (const r of records) {
      const job = desiredFromRecord(r, mapping)
      if (job) desired.set(job.id, { job, files: [] })
    }
    // Hook events: done when the API has what their record says; a run Slurm no longer describes from the events themselves.
    // Events → runs: a prolog opens run <restart count>; an epilog closes the run its job has open.
    // Slurm counts a requeue before the epilog runs: that epilog carries the next run's count.
    const runs = new Map<string, { k: number; events: HookEvent[] }>()
    const open = new Map<number, number>()
    for (const e of events) {
      const c = countOf(e)
      let k = c
      if (e.kind === 'prolog') open.set(e.jobId, c)
      else {
        const opened = open.get(e.jobId)
        open.delete(e.jobId)
        if (opened !== undefined) k = opened
        else if (
          c > 0 &&
          settled.get(eventId(e, c - 1, o.mapping.idPrefix)) === 'running' &&
          !settled.has(eventId(e, c, o.mapping.idPrefix))
        )
          k = c - 1
      }
      const key = `${e.jobId}.${k}`
      runs.set(key, { k, events: [...(runs.get(key)?.events ?? []), e] })
    }
    const keep: string[] = []
    const later = (files: string[], why: 'slurm' | 'full' | 'api', at?: number) => {
      keep.push(...files)
      if (why === 'slurm') result.waitingOnSlurm += files.length
      for (const f of files) {
        const waitMs = why === 'slurm' ? Math.min(o.periodSeconds * 1000, 2 * (nextLook.get(f)?.waitMs ?? 500)) : 0
        nextLook.set(f, { at: why === 'slurm' ? now() + waitMs : why === 'full' ? nextFullAt : (at ?? now() + RETRY_MIN_MS), waitMs })
      }
    }
    for (const { k, events: run } of runs.values()) {
      const e = run[0]
      const r = recordOf.get(e.jobId)
      const files = run.map((x) => x.file)
      const ended = run.some((x) => x.kind === 'epilog')
      if (r && r.restarts === k) {
        const d = desired.get(`${o.mapping.idPrefix}${r.id}`)
        // not started in Slurm's record yet, or ended but its final state not recorded yet (COMPLETING)
        if (!d || (ended && !d.job.end)) later(files, 'slurm')
        else d.files.push(...files)
      } else if (r && r.restarts > k) {
        // requeued: this run ended when its epilog ran (without one: it is noticed now)
        const job = desiredFromEvents(run, k, mapping, {
          at: ended ? run.find((x) => x.kind === 'epilog')!.atMs : now(),
          state: 'REQUEUED',
        })
        if (job) desired.set(job.id, { job, files })
      } else if (!r && full) {
        // Slurm forgot the job (MinJobAge passed) before the sync saw it: the hooks' own record.
        const job = desiredFromEvents(run, k, mapping)
        if (job) desired.set(job.id, { job, files })
      } else later(files, 'full')
    }
    // A full round: running jobs of this Slurm cluster that Slurm no longer lists ended unseen.
    if (running) {
      const listed = new Set(records.map((r) => `${o.mapping.idPrefix}${r.id}`))
      const missing = new Set<string>()
      for (const id of running) {
        if (desired.has(id) || listed.has(id) || !id.startsWith(o.mapping.idPrefix)) continue
        // Only when missing from two full rounds in a row: one odd answer (a wrong SLURM_CONF, a
        // restarted slurmctld) must not end every running job.
        missing.add(id)
        if (!missingBefore.has(id)) continue
        // `<id>` or `<id>.<run>`: a later run of the same job means this one was requeued; its end is noticed now
        const [base, run] = splitRun(id.slice(o.mapping.idPrefix.length))
        const later = records.some((r) => splitRun(r.id)[0] === base && r.restarts > run)
        await reconcileEnd(id, later ? 'REQUEUED' : 'UNKNOWN', new Date(now()).toISOString(), result)
      }
      missingBefore = missing
      // Forget what Slurm forgot: the memory stays as large as Slurm's own list.
      for (const id of settled.keys()) if (!listed.has(id) && !desired.has(id) && !running.has(id)) settled.delete(id)
    }
    // A run that started while the sync was up but that no hook noted: the hooks are not installed or cannot write.
    for (const d of desired.values()) {
      const t = Date.parse(d.job.startedAt)
      if (full && !d.files.length && !settled.has(d.job.id) && !refused.has(d.job.id) && t > startedAt && t < spoolReadAt - 10_000)
        result.problems.push(
          `job ${d.job.id}: started ${d.job.startedAt} but no hook noted it (created from Slurm's record): ` +
            `is PrologSlurmctld in slurm.conf, and can SlurmUser write to ${o.spoolDir}?`,
        )
    }
    const done: string[] = []
    await Promise.all(
      [...desired.values()].map((d) =>
        limit(async () => {
          if (await reconcile(d.job, result)) done.push(...d.files)
          else later(d.files, 'api', retry.get(d.job.id)?.at)
        }),
      ),
    )
    await removeEvents(o.spoolDir, done)
    for (const f of done) nextLook.delete(f)
    result.pending = keep.length
    pendingEvents = spool.files.length - done.length
    return result
  }

  /** Completes a job Slurm no longer describes: failed, with the state it can tell (REQUEUED) or UNKNOWN. */
  async function reconcileEnd(id: string, state: string, at: string, result: RoundResult): Promise<void> {
    try {
      const r = await o.api.complete(id, { status: 'failed', at, labels: { slurm_state: state } })
      settled.set(id, 'ended')
      if (r === 'done') result.completed++
      result.problems.push(`job ${id}: Slurm no longer lists it; completed as failed (${state}) at ${at}`)
    } catch (err) {
      result.problems.push(`job ${id}: ${messageOf(err)}`)
    }
  }

  async function step(): Promise<number> {
    const full = now() >= nextFullAt
    if (full) nextFullAt = now() + o.periodSeconds * 1000
    try {
      const r = await round(full)
      reconciled += r.created + r.completed
      const apiTrouble = r.problems.some((p) => !/Slurm no longer lists it|node .*:/.test(p))
      // Only a full round says all is well again; a spool round can only find trouble.
      if (full || apiTrouble) failing = apiTrouble
      for (const p of r.problems) o.log.warn('Slurm sync', { error: p })
      if (r.problems.length) note(r.problems)
      if (full && !apiTrouble) lastSync = now()
      if (r.created || r.completed) o.log.info('Slurm sync', { full, created: r.created, completed: r.completed, pending: r.pending })
    } catch (err) {
      failing = true
      fail(messageOf(err))
      if (full) nextFullAt = now() + Math.min(o.periodSeconds, 10) * 1000
    }
    if (slurmCluster && (full || failing !== reportedFailing || now() - reportedAt >= REPORT_EVERY_MS)) {
      reportedAt = now()
      reportedFailing = failing
      await o.api.report(report()).catch((err) => o.log.debug('Slurm sync report not delivered', { error: messageOf(err) }))
    }
    // The next kept note due (Slurm records a final state within a second of the epilog; the API's backoff).
    let due = nextFullAt
    for (const n of nextLook.values()) due = Math.min(due, n.at)
    return Math.max(due, now() + 250)
  }

  function report(): SyncReport {
    return {
      slurmCluster: slurmCluster ?? '',
      periodSeconds: o.periodSeconds,
      ...(lastSync ? { lastSync: new Date(lastSync).toISOString() } : {}),
      reconciled,
      pendingEvents,
      failing,
      ...(lastError ? { lastError: lastError.text, lastErrorAt: new Date(lastError.at).toISOString() } : {}),
    }
  }

  let pump: Pump | undefined
  let watcher: FSWatcher | undefined
  return {
    /** One full round (`slurm sync --once`). */
    async once(): Promise<RoundResult> {
      const r = await round(true)
      reconciled += r.created + r.completed
      failing = r.problems.length > 0
      if (!failing) lastSync = now()
      if (r.problems.length) note(r.problems)
      if (slurmCluster) await o.api.report(report()).catch(() => undefined)
      return r
    },
    /** Runs until stopped: full rounds every period, a spool round as soon as a hook writes. */
    start(): void {
      pump = startPump({ step: async () => step(), onError: (err) => fail(messageOf(err)) })
      try {
        watcher = watch(o.spoolDir, () => pump?.kick())
        watcher.on('error', (err) => fail(`watching ${o.spoolDir}: ${messageOf(err)}`))
      } catch (err) {
        fail(`watching ${o.spoolDir}: ${messageOf(err)} (hook events are read at each full round)`)
      }
    },
    report,
    async stop(): Promise<void> {
      watcher?.close()
      await pump?.stop()
    },
  }
}
