import type { Config, QumuloConfig } from '../lib/config.ts'
import type { Logger } from '../lib/log.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import { createQumuloClient, type QumuloClient } from '../qumulo/client.ts'
import { createCollector, type Collector, type CollectorOptions, type CollectorStatus } from './index.ts'
import type { CycleReport } from './cycle.ts'
import type { JobScope } from '../lib/job-scope.ts'

/** Qumulo clients by cluster name (the `cluster` tag), one per configured cluster. */
export type QumuloClients = ReadonlyMap<string, QumuloClient>

/** A client per configured cluster; each has its own sessions, timeouts and TLS settings. */
export function qumuloClients(clusters: readonly QumuloConfig[], log: Logger): Map<string, QumuloClient> {
  return new Map(clusters.map((c) => [c.cluster, createQumuloClient(c, log.child({ cluster: c.cluster }))]))
}

/** The collectors of every cluster, polled side by side. */
export interface Fleet {
  readonly collectors: ReadonlyMap<string, Collector>
  start(): void
  stop(): Promise<void>
  /** Each cluster's last cycle, by cluster name. */
  status(): Record<string, CollectorStatus>
}

/** Options of {@link startFleet}. */
export interface FleetOptions {
  config: Pick<Config, 'collector' | 'clusters'>
  clients: QumuloClients
  /** shared by every cluster: a point's `cluster` tag tells them apart */
  writer: DurableWriter
  log: Logger
  /** the jobs a cluster's poll stamped `tickS` attributes activity to (and whose paths it watches) */
  jobs?: (cluster: string, tickS: number) => Promise<JobScope[]>
  /** what to do with a cluster's verdicts on its watched paths (see CollectorOptions.onPathStates) */
  onPathStates?: (cluster: string) => CollectorOptions['onPathStates']
  onCycle?: (cluster: string, report: CycleReport) => void
}

/**
 * One collector per cluster, each with its own client and its own poll loop on the shared grid: a
 * cluster that is down or slow only delays its own cycles (its overruns are skipped ticks of its
 * own), never another cluster's poll.
 */
export function createFleet(o: FleetOptions): Fleet {
  const collectors = new Map<string, Collector>()
  for (const cluster of o.config.clusters) {
    const name = cluster.cluster
    const qumulo = o.clients.get(name)
    if (!qumulo) throw new Error(`no Qumulo client for cluster "${name}"`)
    const jobs = o.jobs
    collectors.set(
      name,
      createCollector({
        config: { collector: o.config.collector, qumulo: cluster },
        qumulo,
        writer: o.writer,
        log: o.log.child({ cluster: name }),
        jobs: jobs && ((tickS) => jobs(name, tickS)),
        onPathStates: o.onPathStates?.(name),
        onCycle: o.onCycle && ((r) => o.onCycle!(name, r)),
      }),
    )
  }
  return {
    collectors,
    start: () => collectors.forEach((c) => c.start()),
    stop: async () => void (await Promise.all([...collectors.values()].map((c) => c.stop()))),
    status: () => Object.fromEntries([...collectors].map(([name, c]) => [name, c.status()])),
  }
}
