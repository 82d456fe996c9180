import { join } from 'node:path'
import type { Config } from '../lib/config.ts'
import type { Logger } from '../lib/log.ts'
import { createDurableWriter, type DurableWriter } from '../lib/influx/writer.ts'
import { qumuloClients, type QumuloClients } from '../collector/fleet.ts'

/** The parts `serve`, `api` and `demo` are assembled from (the one place the collector and the API meet is cli/). */

/** A Qumulo client per configured cluster (capacity snapshots, polling); warns when there is none. */
export function optionalQumulo(config: Config, log: Logger): QumuloClients {
  if (!config.clusters.length)
    log.warn('No Qumulo cluster configured (QUMULO_URL or QACTIVITY_CLUSTERS_FILE): no capacity snapshots for job paths')
  if (!config.clusterNames.length)
    log.warn("No cluster named (QUMULO_CLUSTER): jobs are tied to no cluster and count every cluster's points")
  return qumuloClients(config.clusters, log)
}

/** A durable writer in `QACTIVITY_DATA_DIR/<name>`. */
export function openWriter(config: Config, log: Logger, name: string): Promise<DurableWriter> {
  return createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, name),
    maxBytes: config.storage.spoolMaxBytes,
    log: log.child({ component: 'writer' }),
  })
}
