import { parentPort, workerData } from 'node:worker_threads'
import { createLogger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import { createDurableWriter } from '../lib/influx/writer.ts'
import type { JobScope } from '../lib/job-scope.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from './index.ts'
import type { CollectorThreadData, FromThread, ToThread } from './thread.ts'

/** How long a poll waits for the job list before it uses the last one: the poll must not wait on a busy API thread. */
const SCOPES_TIMEOUT_MS = 500

const port = parentPort!
const { config, cluster, spoolDir } = workerData as CollectorThreadData
const log = createLogger(config.logLevel, { component: 'collector', cluster: cluster.cluster })
const send = (m: FromThread) => port.postMessage(m)

let nextId = 0
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
/** A request to the main thread, rejected after `timeoutMs`. */
function ask<T>(
  m: { kind: 'scopes'; tickS: number } | { kind: 'pathStates'; states: Array<[string, string | null]> },
  timeoutMs: number,
): Promise<T> {
  const id = ++nextId
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id)
      reject(new Error(`no answer from the API thread in ${timeoutMs} ms`))
    }, timeoutMs)
    pending.set(id, {
      resolve: (v) => (clearTimeout(timer), resolve(v as T)),
      reject: (e) => (clearTimeout(timer), reject(e)),
    })
    send({ ...m, id } as FromThread)
  })
}

try {
  const writer = await createDurableWriter({
    influx: config.influx,
    dir: spoolDir,
    maxBytes: config.storage.spoolMaxBytes,
    log: log.child({ component: 'writer' }),
  })
  const collector = createCollector({
    config: { collector: config.collector, qumulo: cluster, storage: config.storage },
    qumulo: createQumuloClient(cluster, log),
    writer,
    log,
    // A late answer falls back to the last jobs known (collector/watched.ts): a poll is never held up.
    jobs: (tickS) => ask<JobScope[]>({ kind: 'scopes', tickS }, SCOPES_TIMEOUT_MS),
    // Handed over, not awaited: recording them is a store write in the API thread, and the poll must not wait on it.
    onPathStates: (states) => send({ kind: 'pathStates', id: 0, states: [...states].map(([p, s]) => [p, s ?? null]) }),
    onCycle: () => send({ kind: 'status', status: collector.status() }),
    onStaleJobs: (tickS, sinceS) => send({ kind: 'stale', tickS, sinceS }),
  })
  port.on('message', (m: ToThread) => {
    if (m.kind === 'reply') {
      const p = pending.get(m.id)
      pending.delete(m.id)
      if (m.error !== undefined) p?.reject(new Error(m.error))
      else p?.resolve(m.value)
      return
    }
    void (async () => {
      await collector.stop()
      await writer.close()
      send({ kind: 'stopped' })
      process.exit(0) // ends this thread only; idle keep-alive sockets would hold it open
    })()
  })
  collector.start()
  send({ kind: 'started' })
} catch (err) {
  send({ kind: 'failed', error: messageOf(err) })
  process.exit(1)
}
