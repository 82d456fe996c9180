import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig, type Config, type QumuloConfig } from '../lib/config.ts'
import { UsageError, messageOf } from '../lib/errors.ts'
import { COMMANDS } from './commands.ts'
import { createLogger } from '../lib/log.ts'
import { createDurableWriter } from '../lib/influx/writer.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from '../collector/index.ts'
import { jobsFromApi } from '../collector/api-jobs.ts'

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: COMMANDS.collect.options, strict: true }).values
  } catch (err) {
    throw new UsageError(messageOf(err))
  }
}

/**
 * The one cluster a lone collector polls: `QUMULO_URL`'s, or the entry of `QACTIVITY_CLUSTERS_FILE`
 * named by `--cluster` (which may be left out when the file has one entry).
 */
function pickCluster(config: Config, name: string | undefined): QumuloConfig {
  const names = config.clusters.map((c) => c.cluster)
  if (name === undefined) {
    if (config.clusters.length === 1) return config.clusters[0]
    throw new UsageError(
      `--cluster is required: QACTIVITY_CLUSTERS_FILE lists ${names.join(', ')} ` +
        `(run one collector per cluster, or \`qactivity serve\` for all)`,
    )
  }
  const found = config.clusters.find((c) => c.cluster === name)
  if (!found) throw new UsageError(`--cluster "${name}" is not configured (${names.join(', ')})`)
  return found
}

/** `qactivity collect [--once] [--cluster NAME]` */
export async function runCollectCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { once, cluster: clusterName } = parse(argv)
  const loaded = loadConfig(env, ['qumulo', 'influx'])
  const cluster = pickCluster(loaded, clusterName)
  const config = { ...loaded, qumulo: cluster }
  const log = createLogger(config.logLevel, { component: 'collector' })
  const writer = await createDurableWriter({
    influx: config.influx,
    // One spool per collector: collectors of several clusters may share a data directory.
    dir: join(config.storage.dataDir, loaded.clusters.length > 1 || env.QACTIVITY_CLUSTERS_FILE ? `spool-${cluster.cluster}` : 'spool'),
    maxBytes: config.storage.spoolMaxBytes,
    log: log.child({ component: 'writer' }),
  })
  // A lone collector learns the running jobs from the API when QACTIVITY_URL points at one.
  const jobs = config.client.urlSet ? jobsFromApi(config.client.url, config.client.token, cluster.cluster) : undefined
  const collector = createCollector({ config, qumulo: createQumuloClient(config.qumulo, log), writer, log, jobs })
  if (once) {
    const report = await collector.runOnce()
    const delivered = await writer.flush().then(
      () => true,
      () => false,
    )
    await writer.close()
    if (!delivered) log.error('InfluxDB unreachable; points kept in the spool for the next run', { spoolBytes: writer.stats().spoolBytes })
    return report.success && delivered ? 0 : 1
  }
  log.info('Collector started', {
    qumulo: config.qumulo.url,
    influx: config.influx.url,
    poll: config.collector.pollSeconds,
    cluster: config.qumulo.cluster,
  })
  collector.start()
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await collector.stop()
  await writer.close()
  log.info('Collector stopped', { spoolBytes: writer.stats().spoolBytes })
  return 0
}
