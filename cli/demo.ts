import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../lib/config.ts'
import { UsageError, messageOf } from '../lib/errors.ts'
import { COMMANDS } from './commands.ts'
import { createLogger } from '../lib/log.ts'
import { createInfluxQL } from '../lib/influx/influxql.ts'
import { startLocalInfluxd, type LocalInfluxd } from '../lib/influx/local-server.ts'
import { ACTIVITY_FIELDS } from '../lib/schema.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from '../collector/index.ts'
import { startApi } from '../api/server.ts'
import { openWriter } from './compose.ts'
import { pathProblemRecorder } from '../jobs/path-problems.ts'
import { startSimulator } from '../simulator/server.ts'
import { loadScenario } from '../simulator/scenario.ts'
import { formatStats, table, type StatsView } from './format.ts'
import { writeFile } from 'node:fs/promises'

const DEMO_SCENARIO = new URL('../simulator/scenarios/demo.json', import.meta.url).pathname

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: COMMANDS.demo.options, strict: true }).values
  } catch (err) {
    throw new UsageError(messageOf(err))
  }
}

/** The render farm of the demo scenario (10.0.1.10–15) and the shot it renders. */
const FARM = '10.0.1.0/28'
const SHOT_PATHS = ['/render/shots/sq010', '/render/output/sq010']

const out = (s = '') => process.stdout.write(s + '\n')

/**
 * `qactivity demo`: the simulator with the demo scenario and `serve` (API without auth on a free
 * port + collector polling every 5 s) against `INFLUX_URL`, or else a private influxd on free ports
 * that is stopped and removed when the demo ends (also on Ctrl-C); a scripted render job runs
 * meanwhile; then a query, the job and curl examples are printed. State goes to `QACTIVITY_DATA_DIR/demo`.
 */
export async function runDemoCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cycles = Number(parse(argv).cycles)
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > 100) throw new UsageError('--cycles must be an integer from 1 to 100')
  const base = loadConfig(env)
  const influxd = env.INFLUX_URL?.trim() ? undefined : await startLocalInfluxd()
  const interrupted = () => void (influxd?.close() ?? Promise.resolve()).finally(() => process.exit(130))
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    return await runDemo(cycles, env, base.storage.dataDir, influxd)
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await influxd?.close()
  }
}

async function runDemo(cycles: number, env: NodeJS.ProcessEnv, dataDir: string, influxd: LocalInfluxd | undefined): Promise<number> {
  const sim = await startSimulator({ scenario: await loadScenario(DEMO_SCENARIO), users: { demo: 'demo' } })
  const config = loadConfig(
    {
      ...env,
      INFLUX_URL: influxd?.url ?? env.INFLUX_URL,
      QUMULO_URL: sim.url,
      QUMULO_USERNAME: 'demo',
      QUMULO_PASSWORD: 'demo',
      QUMULO_TOKEN: '',
      QUMULO_CLUSTER: 'demo',
      QACTIVITY_CLUSTERS_FILE: '',
      QACTIVITY_POLL_SECONDS: '5',
      QACTIVITY_AUTH: 'off',
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_PORT: '0',
      QACTIVITY_DATA_DIR: join(dataDir, 'demo'),
    },
    ['qumulo', 'influx', 'api'],
  )
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, { component: 'demo' })
  out(`Simulated Qumulo cluster: ${sim.url} (scenario ${DEMO_SCENARIO})`)
  if (influxd)
    out(
      `InfluxDB: ${influxd.url}, database "${config.influx.bucket}" ` +
        `(a private influxd, data in ${influxd.dir}; ` +
        `stopped and removed when the demo ends: set INFLUX_URL to keep the data)`,
    )
  else out(`InfluxDB: ${config.influx.url}, database "${config.influx.bucket}" (INFLUX_URL)`)
  const writer = await openWriter(config, log, 'spool')
  const qumulo = createQumuloClient(config.qumulo, log)
  const api = await startApi({ config, log, writer, qumulo: new Map([[config.qumulo.cluster, qumulo]]) })
  out(`Job API (serve, no auth): ${api.url}`)
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api.url + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    })
    return (await res.json()) as { id: string }
  }

  const job = await call('POST', '/api/v1/jobs', { name: 'demo-render', paths: SHOT_PATHS, clients: [FARM], labels: { shot: 'sq010' } })
  out(`Started job ${job.id} (render farm ${FARM} reading ${SHOT_PATHS[0]}, writing ${SHOT_PATHS[1]}); ${cycles} poll cycles, 5 s apart…`)
  let done = 0
  let allDone!: () => void
  const finished = new Promise<void>((resolve) => (allDone = resolve))
  const collector = createCollector({
    config,
    qumulo,
    writer,
    log,
    jobs: async (tick) => api.service.jobScopes(config.qumulo.cluster, tick),
    onPathStates: pathProblemRecorder(api.store, () => api.service.runningJobs()),
    onCycle: (r) => {
      out(
        `  cycle at ${new Date(r.time * 1000).toISOString()}: ` +
          `${r.entries} activity entries → ${r.points} points in ${(r.durationSeconds * 1000).toFixed(0)} ms`,
      )
      if (++done === 1) void call('POST', `/api/v1/jobs/${job.id}/comments`, { text: 'enabled Maya 64-bit shaders' })
      if (done === cycles) allDone()
    },
  })
  collector.start()
  await finished
  await collector.stop()
  await call('POST', `/api/v1/jobs/${job.id}/complete`, {})
  // The end capacity snapshot is taken in the background.
  await until(() => api.store.data.jobs[job.id].capacity.every((c) => c.end || c.error), 10_000)
  await writer.flush()

  // raw fields are counts of Qumulo's 60 s window (lib/schema.ts RAW_WINDOW_SECONDS): / 60 is the rate
  const fields = ACTIVITY_FIELDS.map((f) => `last("${f}") / 60 AS "${f}"`).join(', ')
  const query =
    `SELECT ${fields} FROM "qactivity_raw"."qumulo_activity" ` +
    `WHERE "cluster" = 'demo' AND time > now() - 5m GROUP BY "client_ip", "path"`
  out()
  out(`$ ${influxCommand(config.influx.url, config.influx.bucket)} -execute '${query}'`)
  const [result] = await createInfluxQL(config.influx).query(query)
  const rows = (result.series ?? []).map((s) => [
    s.tags.client_ip,
    s.tags.path,
    ...ACTIVITY_FIELDS.map((f) => s.values[0][s.columns.indexOf(f)] as number),
  ])
  out(table([['client_ip', 'path', ...ACTIVITY_FIELDS], ...rows.map((r) => r.map((v) => (typeof v === 'number' ? v.toFixed(2) : v)))]))
  out('(ops/s for iops fields, bytes/s for throughput fields, at the last poll; stored as counts per 60 s, hence / 60)')
  out()
  out(`$ curl ${api.url}/api/v1/jobs/${job.id}`)
  out(JSON.stringify(api.store.data.jobs[job.id], null, 2))
  // §6 and the report: the summary now (instead of one poll + 15 s later), its stats, the PDF.
  await fetch(`${api.url}/api/v1/admin/jobs/${job.id}/summary`, { method: 'POST' })
  out()
  out(`$ qactivity job stats ${job.id}`)
  out(formatStats((await (await fetch(`${api.url}/api/v1/jobs/${job.id}/stats`)).json()) as StatsView).trimEnd())
  const pdf = await fetch(`${api.url}/api/v1/jobs/${job.id}/report?format=pdf`)
  if (pdf.ok) {
    const file = join(config.storage.dataDir, `report-${job.id}.pdf`)
    await writeFile(file, Buffer.from(await pdf.arrayBuffer()))
    out()
    out(`$ qactivity job report ${job.id} --pdf ${file}`)
    out(`wrote the job's report, compared with the previous demo run if there is one: ${file}`)
  }
  out()
  out('The same story with curl against a running `qactivity serve` (add -H "Authorization: Bearer $QACTIVITY_TOKEN"):')
  out(`  JOB=$(curl -s -d name=render -d paths=/render/shots ${api.url.replace(/:\d+$/, ':8750')}/api/v1/jobs | jq -r .id)`)
  out('  curl -s -d "" http://127.0.0.1:8750/api/v1/jobs/$JOB/clients             # this machine')
  out('  curl -s --data-urlencode "text=enabled Maya 64-bit shaders" http://127.0.0.1:8750/api/v1/jobs/$JOB/comments')
  out('  curl -s -d status=succeeded http://127.0.0.1:8750/api/v1/jobs/$JOB/complete')
  out('  curl -s http://127.0.0.1:8750/api/v1/jobs/$JOB/stats')
  out('  curl -s -o report.pdf "http://127.0.0.1:8750/api/v1/jobs/$JOB/report?format=pdf"')
  await api.close()
  await writer.close()
  await sim.close()
  return rows.length ? 0 : 1
}

/** The `influx` shell command (1.x CLI) for the database at `url`. */
function influxCommand(url: string, database: string): string {
  const u = new URL(url)
  const port = u.port || (u.protocol === 'https:' ? '443' : '80')
  return `influx -host ${u.hostname} -port ${port}${u.protocol === 'https:' ? ' -ssl' : ''} -database ${database}`
}

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}
