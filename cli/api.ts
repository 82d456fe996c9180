import { loadConfig } from '../lib/config.ts'
import { UsageError, messageOf } from '../lib/errors.ts'
import { createLogger } from '../lib/log.ts'
import { startApi } from '../api/server.ts'
import { optionalQumulo, openWriter } from './compose.ts'
import { createFleet } from '../collector/fleet.ts'
import { pathProblemRecorder } from '../jobs/path-problems.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'

/**
 * Resolves on SIGINT or SIGTERM. Taken before anything is opened: a signal during start-up then stops
 * the process once it has started, closing everything, instead of killing it with its locks held.
 */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
}

/** A start that failed closes the writer (releasing its spool's lock) before the error is reported. */
const closing =
  (writer: DurableWriter) =>
  async (err: unknown): Promise<never> => {
    await writer.close()
    throw err
  }

/** `qactivity api`: the job API alone (split deployments). */
export async function runApiCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.length) throw new UsageError(`qactivity api takes no arguments, got "${argv[0]}"`)
  const stopped = stopSignal()
  const config = loadConfig(env, ['api', 'influx'])
  const log = createLogger(config.logLevel, { component: 'api' })
  const writer = await openWriter(config, log, 'spool-api')
  const api = await startApi({ config, log, writer, qumulo: optionalQumulo(config, log) }).catch(closing(writer))
  await stopped
  await api.close()
  await writer.close()
  return 0
}

/** `qactivity serve`: the API, and one collector thread per cluster attributing activity to its running jobs. */
export async function runServeCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.length) throw new UsageError(`qactivity serve takes no arguments, got "${argv[0]}"`)
  const stopped = stopSignal()
  const config = loadConfig(env, ['api', 'influx', 'qumulo'])
  const log = createLogger(config.logLevel)
  const writer = await openWriter(config, log, 'spool')
  const qumulo = optionalQumulo(config, log)
  // The fleet is made in the same turn as the API resolves, before any request can ask for its status.
  const api = await startApi({ config, log, writer, qumulo, collectors: () => fleet.status() }).catch(closing(writer))
  const fleet = createFleet({
    config,
    log: log.child({ component: 'collector' }),
    jobs: (cluster, tick) => api.service.jobScopes(cluster, tick),
    onStaleJobs: (cluster, tick, since) =>
      void api.service
        .backfillMissed(cluster, tick, since)
        .catch((err: unknown) => log.error('Backfill not asked for', { error: messageOf(err) })),
    // One recorder per cluster: a path missing on one cluster is a problem of that cluster's jobs only.
    onPathStates: (cluster) =>
      pathProblemRecorder(api.store, () => api.service.runningJobs().filter((j) => j.cluster === cluster || j.cluster === '')),
  })
  fleet.start()
  for (const c of config.clusters) log.info('Collector started', { qumulo: c.url, poll: config.collector.pollSeconds, cluster: c.cluster })
  await stopped
  await fleet.stop()
  await api.close()
  await writer.close()
  return 0
}
