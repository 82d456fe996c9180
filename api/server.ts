import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import type { Config, GrafanaConfig } from '../lib/config.ts'
import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { DurableWriter } from '../lib/influx/writer.ts'
import { detectServer } from '../lib/influx/server.ts'
import type { CapacityFigures } from '../lib/capacity-points.ts'
import { createGrafanaSink, GrafanaApiError, type AnnotationSink } from './annotations/grafana.ts'
import { startOutbox, type Outbox } from './annotations/outbox.ts'
import { slurmStatus } from './routes/slurm.ts'
import { createApp, type HealthReport } from './app.ts'
import { JobService } from '../jobs/service.ts'
import { openJobStore, type JobStore } from '../jobs/store.ts'
import { createRangeSource } from '../stats/range.ts'
import { createClusterActivity } from '../stats/share.ts'
import { StatsService } from '../stats/service.ts'
import { createInfluxQLSource } from '../stats/influxql.ts'
import { createFluxRunner } from '../stats/flux.ts'
import { startSummaries, summaryFlags, summaryTags, type Summaries } from '../stats/summary.ts'
import { cachedDelivered, collectorWatermark, type DeliveredCheck } from '../stats/delivered.ts'
import { startBackfills, type Backfills } from '../stats/backfill.ts'
import type { ReportSources } from '../reports/build.ts'
import { startReports, type Reports, type ReportsOptions } from '../reports/service.ts'

/** A running API: the HTTP server and everything behind it. */
export interface RunningApi {
  url: string
  service: JobService
  store: JobStore
  outbox: Outbox
  summaries: Summaries
  /** e-mailed reports, when SMTP_URL is set */
  reports?: Reports
  /** Stops accepting requests, stops deliveries, flushes and closes the store (the writer is the caller's). */
  close(): Promise<void>
}

/** What the API asks of a Qumulo cluster (a QumuloClient): capacity readings, and whether it answers. */
export interface ClusterReader {
  aggregates(path: string): Promise<CapacityFigures>
  version(): Promise<{ revisionId: string }>
}

/** Options for {@link startApi}. */
export interface StartApiOptions {
  config: Config
  log: Logger
  /** durable writer for job events and capacity snapshots (shared with the collector in `serve`) */
  writer: DurableWriter
  /** Qumulo clients by cluster name, for capacity snapshots; off when empty or undefined */
  qumulo?: ReadonlyMap<string, ClusterReader>
  /** each polled cluster's last cycle (`serve`), shown in `/healthz` */
  collectors?: () => Record<string, { ok: boolean }>
  /** retry timing of the mail queue (tests shorten it) */
  reportRetry?: Pick<ReportsOptions, 'retryMinMs' | 'retryMaxMs'>
}

const HOUR = 3_600_000

/**
 * The annotation sink for `GRAFANA_TOKEN`, or else `GRAFANA_TOKEN_FILE`; none without `GRAFANA_URL`.
 * The file is read at every call (it is tiny, calls are few): it may appear after the start (written by
 * docker-compose's grafana-init service) and a rewritten token is used at once. A missing or empty file
 * is a retriable configuration error, so annotations wait in the outbox and `/healthz` says why.
 */
export function grafanaSinkFor(g: GrafanaConfig): AnnotationSink | undefined {
  const { url, token, tokenFile } = g
  if (!url) return undefined
  if (token) return createGrafanaSink({ url, token })
  if (!tokenFile) return undefined
  let current: { token: string; sink: AnnotationSink } | undefined
  const sink = async (): Promise<AnnotationSink> => {
    const unusable = (why: string) =>
      new GrafanaApiError(`GRAFANA_TOKEN_FILE: "${tokenFile}" ${why}`, { retriable: true, configError: true })
    let text: string
    try {
      text = (await readFile(tokenFile, 'utf8')).trim()
    } catch (err) {
      throw unusable(`cannot be read (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`)
    }
    if (!text) throw unusable('is empty')
    if (current?.token !== text) current = { token: text, sink: createGrafanaSink({ url, token: text }) }
    return current.sink
  }
  return {
    create: async (a, signal) => (await sink()).create(a, signal),
    patch: async (id, p, signal) => (await sink()).patch(id, p, signal),
    find: async (q, signal) => (await sink()).find(q, signal),
  }
}

async function probe(f: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    const detail = await Promise.race([f(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000))])
    return { ok: true, ...(detail && typeof detail === 'object' ? detail : {}) }
  } catch (err) {
    return { ok: false, error: messageOf(err) }
  }
}

/** Opens the store, starts the annotation outbox, the archive timer and the HTTP server. */
export async function startApi(o: StartApiOptions): Promise<RunningApi> {
  const { config, log } = o
  const store = await openJobStore(join(config.storage.dataDir, 'jobs.json'), log.child({ component: 'store' }))
  const sink = grafanaSinkFor(config.grafana)
  const outbox = startOutbox({ store, sink, log })
  const aggregates = o.qumulo?.size ? (cluster: string, path: string) => clientOf(cluster).aggregates(path) : undefined
  const clientOf = (cluster: string) => {
    const client = o.qumulo?.get(cluster)
    if (!client) throw new Error(`cluster "${cluster}" is not configured here: no capacity reading`)
    return client
  }
  const service = new JobService({
    store,
    writer: o.writer,
    aggregates,
    clusters: config.clusterNames,
    intervalSeconds: config.collector.pollSeconds,
    annotations: outbox,
    onComplete: (id) => summaries.schedule(id),
    onBackfill: (id) => backfills.kick(id),
    log: log.child({ component: 'jobs' }),
  })
  const retentionMs = config.api.retentionDays * 24 * HOUR
  const archive = () => store.archive(new Date(Date.now() - retentionMs))
  const archiveSoon = () =>
    archive().then(
      (n) => n && log.info('Archived completed jobs', { count: n }),
      (err) => log.error('Archiving failed', { error: messageOf(err) }),
    )
  void archiveSoon()
  const archiveTimer = setInterval(archiveSoon, HOUR).unref()

  const slurm = slurmStatus()
  const health = async (): Promise<HealthReport> => {
    const cycles = o.collectors?.() ?? {}
    const [influx, ...perCluster] = await Promise.all([
      probe(async () => ({ version: (await detectServer(config.influx)).version, spoolBytes: o.writer.stats().spoolBytes })),
      ...[...(o.qumulo ?? new Map())].map(async ([name, client]) => {
        const reach = await probe(async () => ({ version: (await client.version()).revisionId }))
        const cycle = cycles[name]
        const entry = { ...reach, ...(cycle ? { collector: cycle } : {}) }
        return [name, { ...entry, ok: reach.ok && (cycle?.ok ?? true) }] as const
      }),
    ])
    const clusters = Object.fromEntries(perCluster)
    const qumulo = perCluster.length
      ? { ok: perCluster.every(([, c]) => c.ok), clusters }
      : { ok: false, error: 'no cluster configured (QUMULO_URL or QACTIVITY_CLUSTERS_FILE)' }
    const grafana = outbox.health()
    const mail = reports ? reports.health() : reportsError ? { failing: true, lastError: reportsError } : { off: 'SMTP_URL not set' }
    const syncs = slurm.health()
    const ok =
      influx.ok && (!perCluster.length || qumulo.ok) && !grafana.failing && !('failing' in mail && mail.failing) && (syncs?.ok ?? true)
    return {
      status: ok ? 'ok' : 'degraded',
      influx,
      qumulo,
      grafana,
      reports: mail,
      store: { jobs: Object.keys(store.data.jobs).length, archived: store.stats.archived },
      // Only once a Slurm sync reported since the API started.
      ...(syncs ? { slurm: syncs } : {}),
    }
  }

  const source = config.influx.queryLanguage === 'flux' ? createFluxRunner(config.influx) : createInfluxQLSource(config.influx)
  const stats = new StatsService({
    source,
    intervalSeconds: config.collector.pollSeconds,
    previousRuns: (name, before, id) => service.previousRuns(name, before, id),
    aggregates,
    cluster: createClusterActivity(config.influx, config.collector.pollSeconds),
    tagRules: config.tags,
    regressionRuns: config.report.regressionRuns,
    thresholdPct: config.report.thresholdPct,
  })
  // The collector may be another process: InfluxDB itself tells what it has delivered.
  const watermark = cachedDelivered(collectorWatermark(config.influx))
  // A job of every cluster (`""`) waits for every configured cluster's collector: each has its own spool.
  const delivered: DeliveredCheck = async (cluster, untilS) =>
    cluster || !config.clusterNames.length
      ? watermark(cluster, untilS)
      : (await Promise.all(config.clusterNames.map((c) => watermark(c, untilS)))).every(Boolean)
  // The service's onBackfill above calls this; it is only ever called once startApi has returned.
  const backfills: Backfills = startBackfills({
    store,
    source,
    writer: o.writer,
    intervalSeconds: config.collector.pollSeconds,
    clusters: config.clusterNames,
    clientValues: (job) => stats.clientValues(job),
    delivered,
    log: log.child({ component: 'backfill' }),
  })
  const range = createRangeSource({
    influx: config.influx,
    intervalSeconds: config.collector.pollSeconds,
    rollupSeconds: config.collector.rollupSeconds,
  })
  const reportSources: ReportSources = {
    stats,
    range,
    previousRuns: (name, before, id) => service.previousRuns(name, before, id),
    grafanaUrl: config.grafana.url,
    flavour: config.influx.queryLanguage,
    thresholdPct: config.report.thresholdPct,
  }
  // Opened before the summaries start, so that no summary finishes while there is no mail queue.
  const smtpUrl = config.report.smtpUrl
  // A queue file that cannot be read stops the mail, not the API and the collector: /healthz says why.
  let reportsError: string | undefined
  const reports: Reports | undefined = smtpUrl
    ? await startReports({
        config: { ...config.report, smtpUrl },
        store,
        sources: reportSources,
        dataDir: config.storage.dataDir,
        log: log.child({ component: 'reports' }),
        ...o.reportRetry,
      }).catch((err: unknown) => {
        reportsError = `reports off: ${messageOf(err)}`
        log.error('E-mailed reports are off', { error: reportsError })
        return undefined
      })
    : undefined
  // The service's onComplete above calls this; it is only ever called once startApi has returned.
  const summaries: Summaries = startSummaries({
    store,
    stats,
    writer: o.writer,
    log: log.child({ component: 'summaries' }),
    intervalSeconds: config.collector.pollSeconds,
    delivered,
    onDone: (id) => {
      void reports?.completed(id).catch((err: unknown) => log.error('Completion report not queued', { job: id, error: messageOf(err) }))
      // The region gets the job's automatic tags (`tag:<tag>`) once its summary knows them; a regression
      // alert (QACTIVITY_REGRESSION_ALERT) is a point annotation at its end and an e-mail.
      const tagged = summaryTags(store.data.jobs[id]).length > 0
      const alert = config.report.regressionAlert && summaryFlags(store.data.jobs[id]).length > 0
      if (tagged || alert)
        void store
          .update(
            (d) => {
              if (tagged) outbox.complete(d, id)
              if (alert) outbox.regression(d, id)
            },
            [id],
          )
          .then(() => outbox.kick())
          .catch((err: unknown) => log.error('Annotations not queued after the summary', { job: id, error: messageOf(err) }))
      if (alert)
        void reports?.alert(id).catch((err: unknown) => log.error('Regression alert not queued', { job: id, error: messageOf(err) }))
    },
  })
  const app = createApp({
    service,
    stats,
    range,
    summaries,
    reportSources,
    reports,
    reportsOff: reportsError,
    reportTo: config.report.to,
    config: config.api,
    log: log.child({ component: 'api' }),
    health,
    archive,
    slurm,
  })
  const stopAll = async () => {
    clearInterval(archiveTimer)
    await summaries.stop()
    await backfills.stop()
    await reports?.close()
    await outbox.stop()
    await store.close()
  }
  const server = await listen(app.fetch, config.api.host, config.api.port).catch(async (err: unknown) => {
    // Everything opened above is closed again (the store's lock too), so a retry on another port works.
    await stopAll()
    throw err
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.api.port
  const url = `http://${config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host}:${port}`
  log.info('API listening', {
    url,
    auth: config.api.auth ? `${config.api.tokens.length} tokens` : 'off',
    grafana: sink ? config.grafana.url : 'off',
  })
  return {
    url,
    service,
    store,
    outbox,
    summaries,
    reports,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await stopAll()
    },
  }
}

/** Listens on host:port; a port in use, not allowed or an address not of this machine is an error naming the variable to change. */
function listen(fetch: (req: Request) => Response | Promise<Response>, host: string, port: number): Promise<ServerType> {
  return new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch, port, hostname: host }, () => resolve(s))
    s.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
      const why: Record<string, string> = {
        EADDRINUSE: `QACTIVITY_PORT: ${where} is already in use`,
        EACCES: `QACTIVITY_PORT: not allowed to listen on ${where} (ports below 1024 need privileges)`,
        EADDRNOTAVAIL: `QACTIVITY_HOST: ${host} is not an address of this machine`,
      }
      reject(new Error(why[err.code ?? ''] ?? `cannot listen on ${where}: ${err.message}`))
    })
  })
}
