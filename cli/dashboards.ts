import { parseArgs } from 'node:util'
import { loadConfig } from '../lib/config.ts'
import { UsageError, messageOf } from '../lib/errors.ts'
import { COMMANDS } from './commands.ts'
import { writeDashboards } from '../dashboards/index.ts'

/** `qactivity dashboards [--out DIR]`: the Grafana dashboards, both flavours, with this configuration's poll interval and bucket. */
export async function runDashboardsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let out: string
  try {
    out = parseArgs({ args: argv, options: COMMANDS.dashboards.options, strict: true }).values.out!
  } catch (err) {
    throw new UsageError(messageOf(err))
  }
  const config = loadConfig(env, [])
  const { written, unchanged } = writeDashboards(out, {
    pollSeconds: config.collector.pollSeconds,
    rollupSeconds: config.collector.rollupSeconds,
    bucket: config.influx.bucket,
  })
  for (const p of written) process.stdout.write(`wrote ${p}\n`)
  if (unchanged.length) process.stdout.write(`${unchanged.length} unchanged\n`)
  return 0
}
