import { join } from 'node:path'
import type { Config, QumuloConfig } from '../lib/config.ts'
import type { JobScope } from '../lib/job-scope.ts'
import type { Logger } from '../lib/log.ts'
import { createQumuloClient, type QumuloClient } from '../qumulo/client.ts'
import type { Collector, CollectorOptions, CollectorStatus } from './index.ts'
import { startCollectorThread } from './thread.ts'

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

/** Options of {@link createFleet}. */
export interface FleetOptions {
  config: Pick<Config, 'collector' | 'clusters' | 'influx' | 'storage' | 'logLevel'>
  log: Logger
  /** the jobs a cluster's poll stamped `tickS` attributes activity to (and whose paths it watches) */
  jobs?: (cluster: string, tickS: number) => JobScope[]
  /** a cluster's poll stamped `tickS` attributed with the last known jobs (see CollectorOptions.onStaleJobs) */
  onStaleJobs?: (cluster: string, tickS: number, sinceS: number) => void
  /** what to do with a cluster's verdicts on its watched paths (see CollectorOptions.onPathStates) */
  onPathStates?: (cluster: string) => CollectorOptions['onPathStates']
}

/** A cluster collector's spool under `QACTIVITY_DATA_DIR`: one writer per directory. */
export const collectorSpool = (dataDir: string, cluster: string): string => join(dataDir, `spool-collector-${cluster}`)

/**
 * One collector per cluster, each in a worker thread of its own (collector/thread.ts) with its own
 * client, writer and poll loop on the shared grid: a cluster that is down or slow only delays its
 * own cycles (its overruns are skipped ticks of its own), never another cluster's poll, and the
 * API's load never delays a poll.
 */
export function createFleet(o: FleetOptions): Fleet {
  const collectors = new Map<string, Collector>()
  for (const cluster of o.config.clusters) {
    const name = cluster.cluster
    const jobs = o.jobs
    collectors.set(
      name,
      startCollectorThread({
        config: { collector: o.config.collector, influx: o.config.influx, storage: o.config.storage, logLevel: o.config.logLevel },
        cluster,
        spoolDir: collectorSpool(o.config.storage.dataDir, name),
        jobs: jobs && ((tickS) => jobs(name, tickS)),
        onStaleJobs: o.onStaleJobs && ((tickS, sinceS) => o.onStaleJobs!(name, tickS, sinceS)),
        onPathStates: o.onPathStates?.(name),
        log: o.log.child({ cluster: name }),
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
