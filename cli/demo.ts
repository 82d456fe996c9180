import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../lib/config.ts'
import { UsageError } from '../lib/errors.ts'
import { createLogger } from '../lib/log.ts'
import { createDurableWriter } from '../lib/influx/writer.ts'
import { createInfluxQL } from '../lib/influx/influxql.ts'
import { ACTIVITY_FIELDS } from '../lib/schema.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from '../collector/index.ts'
import { startSimulator } from '../simulator/server.ts'
import { loadScenario } from '../simulator/scenario.ts'

const DEMO_SCENARIO = new URL('../simulator/scenarios/demo.json', import.meta.url).pathname

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: { cycles: { type: 'string', default: '3' } }, strict: true }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function table(columns: string[], rows: Array<Array<string | number>>): string {
  const cells = [columns, ...rows.map((r) => r.map((v) => (typeof v === 'number' ? v.toFixed(2) : v)))]
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)))
  return cells.map((r) => r.map((v, i) => String(v).padEnd(widths[i])).join('  ')).join('\n')
}

/**
 * `qactivity demo`: the simulator with the demo scenario, the collector polling it every 5 s into the
 * configured InfluxDB (default http://127.0.0.1:8086), then an InfluxQL query and its result.
 */
export async function runDemoCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cycles = Number(parse(argv).cycles)
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > 100) throw new UsageError('--cycles must be an integer from 1 to 100')
  const sim = await startSimulator({ scenario: await loadScenario(DEMO_SCENARIO), users: { demo: 'demo' } })
  const config = loadConfig(
    {
      ...env,
      INFLUX_URL: env.INFLUX_URL ?? 'http://127.0.0.1:8086',
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'demo',
      QUMULO_PASSWORD: 'demo',
      QUMULO_TOKEN: '',
      QUMULO_CLUSTER: 'demo',
      QACTIVITY_POLL_SECONDS: '5',
    },
    ['qumulo', 'influx'],
  )
  const log = createLogger(config.logLevel, { component: 'demo' })
  const out = (s = '') => process.stdout.write(s + '\n')
  out(`Simulated Qumulo cluster: ${sim.url} (scenario ${DEMO_SCENARIO})`)
  out(`InfluxDB: ${config.influx.url}, database "${config.influx.bucket}"; ${cycles} poll cycles, 5 s apart…`)
  const writer = await createDurableWriter({ influx: config.influx, dir: join(config.storage.dataDir, 'spool'), maxBytes: config.storage.spoolMaxBytes, log })
  let done = 0
  let allDone!: () => void
  const finished = new Promise<void>((resolve) => (allDone = resolve))
  const collector = createCollector({
    config,
    qumulo: createQumuloClient(config.qumulo, log),
    writer,
    log,
    onCycle: (r) => {
      out(`  cycle at ${new Date(r.time * 1000).toISOString()}: ${r.entries} activity entries → ${r.points} points in ${(r.durationSeconds * 1000).toFixed(0)} ms`)
      if (++done === cycles) allDone()
    },
  })
  collector.start()
  await finished
  await collector.stop()
  await writer.flush()
  await writer.close()
  await sim.close()

  const fields = ACTIVITY_FIELDS.map((f) => `mean("${f}") AS "${f}"`).join(', ')
  const query = `SELECT ${fields} FROM "qumulo_activity" WHERE "cluster" = 'demo' AND time > now() - 5m GROUP BY "client_ip", "path"`
  out()
  out(`$ influx -database ${config.influx.bucket} -execute '${query}'`)
  const [result] = await createInfluxQL(config.influx).query(query)
  const rows = (result.series ?? []).map((s) => [s.tags.client_ip, s.tags.path, ...ACTIVITY_FIELDS.map((f) => s.values[0][s.columns.indexOf(f)] as number)])
  out(table(['client_ip', 'path', ...ACTIVITY_FIELDS], rows))
  out()
  out('(ops/s for iops fields, bytes/s for throughput fields; means over the cycles just collected)')
  return rows.length ? 0 : 1
}
