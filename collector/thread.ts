import { Worker } from 'node:worker_threads'
import type { Config, QumuloConfig } from '../lib/config.ts'
import type { JobScope } from '../lib/job-scope.ts'
import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { Collector, CollectorStatus } from './index.ts'

/** What the collector thread is started with (structured-cloned into it). */
export interface CollectorThreadData {
  config: Pick<Config, 'collector' | 'influx' | 'storage' | 'logLevel'>
  cluster: QumuloConfig
  /** the spool directory of the thread's own writer */
  spoolDir: string
}

/** Messages from the thread. */
export type FromThread =
  | { kind: 'scopes'; id: number; tickS: number }
  | { kind: 'pathStates'; id: number; states: Array<[string, string | null]> }
  | { kind: 'status'; status: CollectorStatus }
  | { kind: 'stale'; tickS: number; sinceS: number }
  | { kind: 'started' }
  | { kind: 'failed'; error: string }
  | { kind: 'stopped' }

/** Messages to the thread: answers to its requests, and stop. */
export type ToThread = { kind: 'reply'; id: number; value?: unknown; error?: string } | { kind: 'stop' }

/** Options of {@link startCollectorThread}. */
export interface CollectorThreadOptions extends CollectorThreadData {
  /** the jobs the poll stamped `tickS` attributes activity to (the job store, in this thread) */
  jobs?: (tickS: number) => JobScope[]
  /** the poll stamped `tickS` attributed with the jobs given for the poll `sinceS` (the answer came too late) */
  onStaleJobs?: (tickS: number, sinceS: number) => void
  /** what to do with the poll's verdicts on the watched paths (recorded on the jobs, in this thread) */
  onPathStates?: (states: Map<string, string | undefined>) => void | Promise<void>
  log: Logger
}

/** The thread's entry: the TypeScript sources go through tsx in a checkout, the built JavaScript in a package. */
const entry = import.meta.url.endsWith('.ts')
  ? new URL('./thread-entry.mjs', import.meta.url)
  : new URL('./thread-worker.js', import.meta.url)

/**
 * One cluster's collector in a worker thread of its own, with its own Qumulo client, ticker and
 * durable writer (its own spool): request handling in this thread, however busy, never delays a
 * poll, and a poll's CPU work (parsing, resolving, aggregating, attributing) never delays a request.
 * The thread asks this one for the jobs at each poll (it uses the last answer when none comes in
 * time, see collector/thread-worker.ts) and hands over its verdicts on the watched paths.
 */
export function startCollectorThread(o: CollectorThreadOptions): Collector {
  let status: CollectorStatus = { cluster: o.cluster.cluster, ok: true, failedCycles: 0 }
  let worker: Worker | undefined
  let stopped: Promise<void> | undefined
  const data: CollectorThreadData = { config: o.config, cluster: o.cluster, spoolDir: o.spoolDir }

  const reply = (id: number, value: unknown, error?: string) => worker?.postMessage({ kind: 'reply', id, value, error } satisfies ToThread)

  const onMessage = (m: FromThread) => {
    switch (m.kind) {
      case 'scopes':
        try {
          reply(m.id, o.jobs?.(m.tickS) ?? [])
        } catch (err) {
          reply(m.id, undefined, messageOf(err))
        }
        return
      case 'pathStates':
        Promise.resolve(o.onPathStates?.(new Map(m.states.map(([p, s]) => [p, s ?? undefined])))).catch((err: unknown) =>
          o.log.warn('Path problems not recorded on jobs', { cluster: o.cluster.cluster, error: messageOf(err) }),
        )
        return
      case 'status':
        status = m.status
        return
      case 'stale':
        o.onStaleJobs?.(m.tickS, m.sinceS)
        return
      case 'failed':
        o.log.error('Collector thread failed to start', { cluster: o.cluster.cluster, error: m.error })
        status = { ...status, ok: false, failed: [`start: ${m.error}`] }
        return
      default:
        return
    }
  }

  let stopping = false
  let restart: NodeJS.Timeout | undefined
  /** consecutive exits without a cycle in between, for the restart backoff */
  let exits = 0

  const spawn = () => {
    const w = new Worker(entry, { workerData: data })
    worker = w
    w.on('message', (m: FromThread) => {
      if (m.kind === 'status') exits = 0
      onMessage(m)
    })
    w.on('error', (err) => o.log.error('Collector thread crashed', { cluster: o.cluster.cluster, error: messageOf(err) }))
    w.on('exit', (code) => {
      worker = undefined
      if (stopping) return
      // Polls stop while it is down: say so in /healthz, and start it again (its spool is replayed).
      const delayMs = Math.min(60_000, 1000 * 2 ** Math.min(exits++, 6))
      status = { ...status, ok: false, failed: [...(status.failed ?? []), `thread exited (${code})`].slice(-5) }
      o.log.error('Collector thread exited; restarting it', { cluster: o.cluster.cluster, code, restartInMs: delayMs })
      restart = setTimeout(spawn, delayMs)
      restart.unref()
    })
  }

  return {
    start: spawn,
    async runOnce() {
      throw new Error('a collector thread polls on its own grid; runOnce() is for in-process collectors')
    },
    stop() {
      stopping = true
      clearTimeout(restart)
      const w = worker
      if (!w) return Promise.resolve()
      stopped ??= new Promise<void>((resolve) => {
        w.once('exit', () => resolve())
        w.postMessage({ kind: 'stop' } satisfies ToThread)
      })
      return stopped
    },
    status: () => ({ ...status }),
  }
}
