import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../lib/config.ts'
import { UsageError } from '../lib/errors.ts'
import { createLogger } from '../lib/log.ts'
import { createDurableWriter } from '../lib/influx/writer.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from '../collector/index.ts'
import { jobPathsFromApi } from '../collector/job-paths.ts'

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { once: { type: 'boolean', default: false } }, strict: true }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** `qactivity collect [--once]` */
export async function runCollectCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { once } = parse(argv)
  const config = loadConfig(env, ['qumulo', 'influx'])
  const log = createLogger(config.logLevel, { component: 'collector' })
  const writer = await createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, 'spool'),
    maxBytes: config.storage.spoolMaxBytes,
    log: log.child({ component: 'writer' }),
  })
  // A lone collector learns running jobs' paths from the API when QACTIVITY_URL points at one.
  const jobPaths = config.client.urlSet ? jobPathsFromApi(config.client.url, config.client.token) : undefined
  const collector = createCollector({ config, qumulo: createQumuloClient(config.qumulo, log), writer, log, jobPaths })
  if (once) {
    const report = await collector.runOnce()
    const delivered = await writer.flush().then(() => true, () => false)
    await writer.close()
    if (!delivered) log.error('InfluxDB unreachable; points kept in the spool for the next run', { spoolBytes: writer.stats().spoolBytes })
    return report.success && delivered ? 0 : 1
  }
  log.info('Collector started', { qumulo: config.qumulo.url, influx: config.influx.url, poll: config.collector.pollSeconds, cluster: config.qumulo.cluster })
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
