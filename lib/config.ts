import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import type * as Croner from 'croner'
import { ConfigError, messageOf } from './errors.ts'
import { normalizePath } from './paths.ts'
import { clusterNameProblem, readClustersFile } from './clusters-file.ts'
import type { LogLevel } from './log.ts'

/** How to reach and log in to the Qumulo cluster (docs/interface.md §3). */
export interface QumuloConfig {
  /** Base URL, e.g. `https://qumulo.example:8000`, no trailing slash (`QUMULO_URL`). */
  url: string
  /** A long-lived `access-v1:` token, used as is and never refreshed (`QUMULO_TOKEN`). */
  token?: string
  /** Login user when no token is set (`QUMULO_USERNAME`). */
  username?: string
  /** Login password (`QUMULO_PASSWORD`); never logged. */
  password?: string
  /** PEM bundle trusted in addition to the system CAs (`QUMULO_CA_FILE`). */
  caFile?: string
  /** Skip TLS verification (`QUMULO_INSECURE_TLS=1`) @defaultValue false */
  insecureTls: boolean
  /** Value of the `cluster` tag (`QUMULO_CLUSTER`) @defaultValue host of `url` */
  cluster: string
  /** Per-request timeout in milliseconds (`QUMULO_TIMEOUT_SECONDS` × 1000) @defaultValue 30000 */
  timeoutMs: number
}

/** Where points go and how they are queried. */
export interface InfluxConfig {
  /** e.g. `http://localhost:8086` (`INFLUX_URL`). */
  url: string
  /** 2.x/3.x API token, or `user:password` on 1.x (`INFLUX_TOKEN`). */
  token?: string
  /** 2.x organisation (`INFLUX_ORG`). */
  org?: string
  /** Bucket, or database on 1.x (`INFLUX_BUCKET`) @defaultValue 'qactivity' */
  bucket: string
  /** `INFLUX_QUERY_LANGUAGE` @defaultValue 'influxql' */
  queryLanguage: 'influxql' | 'flux'
  /**
   * How long raw activity (`QACTIVITY_RAW_RETENTION`) and per-job series (`QACTIVITY_JOB_RETENTION`)
   * are kept: an InfluxQL duration (`30d`, `12w`, at least `1h`) or `INF` (forever).
   * @defaultValue { raw: '30d', jobs: 'INF' }
   */
  retention?: { raw: string; jobs: string }
}

/** Poll loop and path rule. */
export interface CollectorConfig {
  /** Seconds between polls, 1–3600 (`QACTIVITY_POLL_SECONDS`) @defaultValue 60 */
  pollSeconds: number
  /** Components kept in the `path` tag outside watched paths (`QACTIVITY_PATH_DEPTH`) @defaultValue 2 */
  pathDepth: number
  /** Paths always tracked for activity and capacity, normalised (`QACTIVITY_WATCH_PATHS`, comma-separated). */
  watchPaths: string[]
  /** Most file ids kept in the id→path cache (`QACTIVITY_RESOLVE_CACHE_SIZE`) @defaultValue 1000000 */
  resolveCacheSize: number
  /** Seconds a resolved path stays cached (`QACTIVITY_RESOLVE_CACHE_TTL_SECONDS`) @defaultValue 600 */
  resolveCacheTtlSeconds: number
  /**
   * Activity series one cycle may write (`QACTIVITY_MAX_SERIES_PER_CYCLE`); above it the deepest
   * unwatched paths collapse to shallower directories @defaultValue 50000
   */
  maxSeriesPerCycle: number
  /**
   * Period of the exact activity rollups (`QACTIVITY_ROLLUP_PERIOD`), seconds: a multiple of the poll
   * interval, at least a minute; 0: none written @defaultValue 3600
   */
  rollupSeconds: number
}

/** On-disk state. */
export interface StorageConfig {
  /** Job store and write spool live here (`QACTIVITY_DATA_DIR`) @defaultValue './data' */
  dataDir: string
  /** Largest write spool in bytes before new points are refused (`QACTIVITY_SPOOL_MAX_MB` × 2^20) @defaultValue 512 MiB */
  spoolMaxBytes: number
}

/** A role of an API token; each includes the ones before it: reader < writer < admin. */
export type Role = 'reader' | 'writer' | 'admin'

/** One entry of `QACTIVITY_API_TOKENS`. */
export interface ApiToken {
  /** shown as comment author and in logs */
  name: string
  /** the bearer secret; never logged */
  token: string
  role: Role
}

/** The job API (`qactivity api` / `serve`). */
export interface ApiConfig {
  /** `QACTIVITY_PORT` @defaultValue 8750 */
  port: number
  /** `QACTIVITY_HOST` @defaultValue '0.0.0.0' */
  host: string
  /** `QACTIVITY_API_TOKENS`: `name:token[:role]`, comma-separated; role defaults to writer */
  tokens: ApiToken[]
  /** `QACTIVITY_AUTH=off` disables authentication (tokens then optional) @defaultValue true */
  auth: boolean
  /** Honour `X-Forwarded-For` for the caller's address (`QACTIVITY_TRUST_PROXY=1`) @defaultValue false */
  trustProxy: boolean
  /** Completed jobs older than this move to the archive file (`QACTIVITY_RETENTION_DAYS`) @defaultValue 30 */
  retentionDays: number
}

/** Grafana annotations; off when `url` is unset. */
export interface GrafanaConfig {
  /** `GRAFANA_URL`, e.g. `http://grafana:3000` */
  url?: string
  /** `GRAFANA_TOKEN`: a service-account token (`glsa_…`) */
  token?: string
  /**
   * `GRAFANA_TOKEN_FILE`: absolute path of a file holding the token, used when `GRAFANA_TOKEN` is empty.
   * Read again on every delivery, so it may appear after the start (docker-compose's init service
   * writes it) and a rewritten token is picked up without a restart; until it is readable, annotations
   * wait in the outbox.
   */
  tokenFile?: string
}

/** Job reports by e-mail (issue #6); off when `smtpUrl` is unset. */
export interface ReportConfig {
  /** `SMTP_URL`: `smtp://[user:pass@]host[:port]` (STARTTLS when offered) or `smtps://` (TLS) */
  smtpUrl?: string
  /** `QACTIVITY_REPORT_FROM`: sender address @defaultValue 'qactivity@localhost' */
  from: string
  /** `QACTIVITY_REPORT_TO`: comma-separated addresses that get every completion report and the digests */
  to: string[]
  /** `QACTIVITY_REPORT_SCHEDULE`: cron expression (5 or 6 fields, server time zone) of the digests; off when unset */
  schedule?: string
  /**
   * `QACTIVITY_REPORT_THRESHOLD_PCT`: changes against the previous run, and against the median of the
   * last runs, at or beyond this are highlighted @defaultValue 20
   */
  thresholdPct: number
  /** `QACTIVITY_REGRESSION_RUNS`: completed runs of the same name a run is compared with (their median) @defaultValue 5 */
  regressionRuns: number
  /** `QACTIVITY_USAGE_SCHEDULE`: cron expression of the usage e-mails (showback since the previous one, with a CSV); off when unset */
  usageSchedule?: string
  /**
   * `QACTIVITY_REGRESSION_ALERT`: an e-mail to QACTIVITY_REPORT_TO and a Grafana annotation when a
   * completed job's regression flags fire @defaultValue false
   */
  regressionAlert?: boolean
  /** `QACTIVITY_USAGE_GROUP`: how the usage e-mail groups the jobs: `name`, `cluster` or `label:KEY` @defaultValue 'name' */
  usageGroup: string
}

/** A showback grouping: `name`, `cluster` or `label:KEY` (stats/usage.ts). */
export const USAGE_GROUP_RE = /^(name|cluster|label:[A-Za-z0-9_.-]{1,64})$/

/** Thresholds of the automatic job tags (README "What the numbers mean"; stats/profile.ts). */
export interface TagConfig {
  /** `QACTIVITY_TAG_METADATA_RATIO`: `metadata-heavy` from this many metadata ops per data op @defaultValue 2 */
  metadataRatio: number
  /** `QACTIVITY_TAG_SMALL_IO_KIB`: `small-io` below this mean I/O size @defaultValue 64 */
  smallIoKiB: number
  /** `QACTIVITY_TAG_WRITE_HEAVY_PCT`: `write-heavy` from this share of the bytes written @defaultValue 75 */
  writeHeavyPct: number
  /** `QACTIVITY_TAG_HOG_PCT`: `cluster-hog` from this peak share of the cluster in any field @defaultValue 50 */
  hogPct: number
}

/** The CLI client and workers. */
export interface ClientConfig {
  /** `QACTIVITY_URL` @defaultValue 'http://127.0.0.1:8750' */
  url: string
  /** `QACTIVITY_TOKEN` */
  token?: string
  /** `QACTIVITY_JOB`: the job commands act on when `--job` is not given */
  job?: string
  /** true when `QACTIVITY_URL` was set: a lone collector then asks the API for running jobs' paths */
  urlSet: boolean
}

/** The Slurm integration: `qactivity slurm conf` and `qactivity slurm sync` (README "Slurm"). */
export interface SlurmConfig {
  /** `QACTIVITY_SLURM_SYNC_SECONDS`: seconds between full reconciliations, 5–3600 @defaultValue 60 */
  syncSeconds: number
  /**
   * `QACTIVITY_SLURM_SPOOL`: where the controller hooks note job starts and ends; writable by SlurmUser
   * @defaultValue '/var/spool/qactivity-slurm'
   */
  spoolDir: string
  /** `QACTIVITY_SLURM_CLUSTER`: the Qumulo cluster (its `cluster` name) this Slurm cluster's jobs use; unset: the API's only cluster */
  cluster?: string
  /** `QACTIVITY_SLURM_ID_PREFIX`: put before every job id, when several Slurm clusters feed one qactivity @defaultValue '' */
  idPrefix: string
  /** `QACTIVITY_SLURM_PATHS`: `mount=path` pairs, comma-separated: a work directory under `mount` on the nodes is `path` on Qumulo */
  mounts: Array<{ mount: string; path: string }>
  /** `QACTIVITY_SLURM_CLIENT_TEMPLATE`: the name Qumulo sees a node by, e.g. `{node}-ib`, resolved by DNS (default: NodeAddr) */
  clientTemplate?: string
  /** `QACTIVITY_SLURM_CLIENT_FILE`: a file of `node address` lines, instead of DNS */
  clientFile?: string
  /** `SLURM_CONF` of the Slurm commands the sync runs @defaultValue Slurm's own default */
  slurmConf?: string
}

/** Everything read from the environment, validated once. */
export interface Config {
  /** The one cluster of `QUMULO_URL` and friends (`url` empty when unset). */
  qumulo: QumuloConfig
  /**
   * Every cluster to poll: the entries of `QACTIVITY_CLUSTERS_FILE`, else the `QUMULO_URL` cluster,
   * else none. Names (the `cluster` tag) are unique.
   */
  clusters: QumuloConfig[]
  /**
   * Names a job's `cluster` may take: those of {@link Config.clusters}, or `QUMULO_CLUSTER` alone
   * (a split `qactivity api` that polls nothing itself). Empty: no cluster known, jobs are not tied to one.
   */
  clusterNames: string[]
  influx: InfluxConfig
  collector: CollectorConfig
  storage: StorageConfig
  api: ApiConfig
  grafana: GrafanaConfig
  report: ReportConfig
  tags: TagConfig
  client: ClientConfig
  slurm: SlurmConfig
  /** `QACTIVITY_LOG_LEVEL` @defaultValue 'info' */
  logLevel: LogLevel
}

/** Sections whose required variables must be present for a command. */
export type Section = 'qumulo' | 'influx' | 'api'

type Env = Record<string, string | undefined>

class Reader {
  readonly problems: string[] = []
  constructor(private readonly env: Env) {}

  str(name: string): string | undefined {
    const v = this.env[name]?.trim()
    return v ? v : undefined
  }

  required(name: string, needed: boolean): string | undefined {
    const v = this.str(name)
    if (!v && needed) this.problems.push(`${name} is required`)
    return v
  }

  int(name: string, def: number, min: number, max: number): number {
    const raw = this.str(name)
    if (raw === undefined) return def
    const n = Number(raw)
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`)
      return def
    }
    return n
  }

  bool(name: string): boolean {
    const raw = this.str(name)?.toLowerCase()
    if (raw === undefined) return false
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true
    if (['0', 'false', 'no', 'off'].includes(raw)) return false
    this.problems.push(`${name} must be 1 or 0, got "${raw}"`)
    return false
  }

  url(name: string, value: string | undefined, protocols: string[]): string | undefined {
    if (value === undefined) return undefined
    try {
      const u = new URL(value)
      if (!protocols.includes(u.protocol)) throw new Error()
      return u.href.replace(/\/+$/, '')
    } catch {
      this.problems.push(`${name} must be an ${protocols.join(' or ')} URL, got "${value}"`)
      return undefined
    }
  }

  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const raw = this.str(name)
    if (raw === undefined) return def
    if ((allowed as readonly string[]).includes(raw)) return raw as T
    this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`)
    return def
  }

  paths(name: string): string[] {
    const raw = this.str(name)
    if (!raw) return []
    const out: string[] = []
    for (const p of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const n = normalizePath(p)
      if (n.ok) out.push(n.path)
      else this.problems.push(`${name}: "${p}" ${n.reason}`)
    }
    return [...new Set(out)]
  }
}

const TOKEN_RE = /^([A-Za-z0-9._-]{1,64}):([\x21-\x7e]{16,256}?)(?::(reader|writer|admin))?$/

function readApi(r: Reader, needed: boolean): ApiConfig {
  const auth = r.oneOf('QACTIVITY_AUTH', 'on', ['on', 'off'] as const) === 'on'
  const tokens: ApiToken[] = []
  const entries = (r.str('QACTIVITY_API_TOKENS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const entry of entries) {
    const m = TOKEN_RE.exec(entry)
    if (!m) {
      r.problems.push(
        `QACTIVITY_API_TOKENS: entry "${entry.split(':')[0]}:…" must be name:token[:role] ` +
          `with a token of 16+ printable characters and role reader, writer or admin`,
      )
      continue
    }
    if (tokens.some((t) => t.name === m[1] || t.token === m[2])) r.problems.push(`QACTIVITY_API_TOKENS: duplicate name or token "${m[1]}"`)
    tokens.push({ name: m[1], token: m[2], role: (m[3] as Role | undefined) ?? 'writer' })
  }
  // Entries that were given but are invalid have their own message; "required" is for none at all.
  if (needed && auth && entries.length === 0)
    r.problems.push('QACTIVITY_API_TOKENS is required (or set QACTIVITY_AUTH=off to run without authentication)')
  return {
    port: r.int('QACTIVITY_PORT', 8750, 0, 65535),
    host: r.str('QACTIVITY_HOST') ?? '0.0.0.0',
    tokens,
    auth,
    trustProxy: r.bool('QACTIVITY_TRUST_PROXY'),
    retentionDays: r.int('QACTIVITY_RETENTION_DAYS', 30, 1, 3650),
  }
}

function readQumulo(r: Reader, needed: boolean): QumuloConfig {
  const given = r.str('QUMULO_URL')
  if (!given && needed) r.problems.push('QUMULO_URL is required (or QACTIVITY_CLUSTERS_FILE for several clusters)')
  const url = r.url('QUMULO_URL', given, ['https:', 'http:']) ?? ''
  const token = r.str('QUMULO_TOKEN')
  const username = r.str('QUMULO_USERNAME')
  const password = r.str('QUMULO_PASSWORD')
  if (needed && !token && !(username && password)) {
    r.problems.push('QUMULO_TOKEN or QUMULO_USERNAME and QUMULO_PASSWORD are required')
  }
  const caFile = r.str('QUMULO_CA_FILE')
  if (caFile && !existsSync(caFile)) r.problems.push(`QUMULO_CA_FILE: no such file "${caFile}"`)
  const cluster = r.str('QUMULO_CLUSTER') ?? (url ? new URL(url).hostname.replace(/^\[|\]$/g, '') : '')
  const bad = cluster ? clusterNameProblem(cluster) : undefined
  if (bad) r.problems.push(`QUMULO_CLUSTER ${bad}`)
  return {
    url,
    token,
    username,
    password,
    caFile,
    insecureTls: r.bool('QUMULO_INSECURE_TLS'),
    cluster,
    timeoutMs: r.int('QUMULO_TIMEOUT_SECONDS', 30, 1, 600) * 1000,
  }
}

/** `QACTIVITY_CLUSTERS_FILE`, or else the `QUMULO_*` cluster; both at once is a mistake. */
function readClusters(r: Reader, single: QumuloConfig): QumuloConfig[] {
  const file = r.str('QACTIVITY_CLUSTERS_FILE')
  if (!file) return single.url ? [single] : []
  const set = ['QUMULO_URL', 'QUMULO_TOKEN', 'QUMULO_USERNAME', 'QUMULO_CLUSTER'].filter((n) => r.str(n) !== undefined)
  if (set.length) r.problems.push(`QACTIVITY_CLUSTERS_FILE and ${set.join(', ')} are both set: describe every cluster in the file`)
  return readClustersFile(file, single.timeoutMs, r.problems)
}

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 }

/** `QACTIVITY_ROLLUP_PERIOD`: `1h`, `15m`, `1d` (at least 1m, a multiple of the poll interval), or `off`; in seconds, 0 for off. */
function rollupPeriodOf(r: Reader, pollSeconds: number): number {
  const name = 'QACTIVITY_ROLLUP_PERIOD'
  const v = (r.str(name) ?? '1h').toLowerCase()
  if (v === 'off' || v === '0') return 0
  const m = /^(\d{1,4})(m|h|d)$/.exec(v)
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2]] : 0
  if (!seconds || seconds > 7 * 86_400) {
    r.problems.push(`${name}: "${v.slice(0, 40)}" must be a period such as 1h, 15m or 1d (1m to 7d), or off`)
    return 3600
  }
  if (seconds % pollSeconds) {
    r.problems.push(`${name}: ${v} is not a multiple of QACTIVITY_POLL_SECONDS (${pollSeconds}): a poll would straddle two periods`)
  }
  return seconds
}

/** A retention: `30d`, `36h`, `12w` (at least an hour), or `INF`/`forever`/`0`; as InfluxQL writes it. */
function retentionOf(r: Reader, name: string, def: string): string {
  const v = (r.str(name) ?? def).toLowerCase()
  if (v === 'inf' || v === 'forever' || v === '0') return 'INF'
  const m = /^(\d{1,6})(h|d|w)$/.exec(v)
  if (!m || Number(m[1]) < 1) {
    r.problems.push(`${name}: "${v.slice(0, 40)}" must be a duration such as 30d, 36h or 12w (at least 1h), or forever`)
    return def
  }
  return `${Number(m[1])}${m[2]}`
}

function readInflux(r: Reader, needed: boolean): InfluxConfig {
  const bucket = r.str('INFLUX_BUCKET') ?? 'qactivity'
  if (/[\n\r"]/.test(bucket)) r.problems.push('INFLUX_BUCKET must not contain quotes or newlines')
  return {
    url: r.url('INFLUX_URL', r.required('INFLUX_URL', needed), ['http:', 'https:']) ?? '',
    token: r.str('INFLUX_TOKEN'),
    org: r.str('INFLUX_ORG'),
    bucket,
    queryLanguage: r.oneOf('INFLUX_QUERY_LANGUAGE', 'influxql', ['influxql', 'flux'] as const),
    retention: { raw: retentionOf(r, 'QACTIVITY_RAW_RETENTION', '30d'), jobs: retentionOf(r, 'QACTIVITY_JOB_RETENTION', 'INF') },
  }
}

function readGrafana(r: Reader): GrafanaConfig {
  const token = r.str('GRAFANA_TOKEN')
  const file = token ? undefined : r.str('GRAFANA_TOKEN_FILE')
  // The file may not exist yet (it is read at each delivery); a directory is a mistake now.
  if (file && existsSync(file) && statSync(file).isDirectory()) r.problems.push(`GRAFANA_TOKEN_FILE: "${file}" is a directory`)
  return {
    url: r.url('GRAFANA_URL', r.str('GRAFANA_URL'), ['http:', 'https:']),
    token,
    tokenFile: file ? resolve(file) : undefined,
  }
}

/** A plain address check (the SMTP server has the last word): local@domain, no spaces or angle brackets, ≤ 254 characters. */
export const EMAIL_RE = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/

/** `SMTP_URL`, checked without ever echoing its credentials; user and password must percent-decode. */
function readSmtpUrl(r: Reader): string | undefined {
  const raw = r.str('SMTP_URL')
  if (raw === undefined) return undefined
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    r.problems.push(
      'SMTP_URL must be an smtp:// or smtps:// URL (smtp://[user:password@]host[:port]; percent-encode @ : / % in the password)',
    )
    return undefined
  }
  const shown = `${u.protocol}//${u.username ? '***@' : ''}${u.host}`
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') {
    r.problems.push(`SMTP_URL must be an smtp:// or smtps:// URL, got ${shown}`)
    return undefined
  }
  try {
    decodeURIComponent(u.username)
    decodeURIComponent(u.password)
  } catch {
    r.problems.push(`SMTP_URL: the user or password of ${shown} is not valid percent-encoding (write % as %25)`)
    return undefined
  }
  return u.href.replace(/\/+$/, '')
}

function readReport(r: Reader): ReportConfig {
  const smtpUrl = readSmtpUrl(r)
  const addresses = (name: string): string[] => {
    const out: string[] = []
    for (const a of (r.str(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (a.length <= 254 && EMAIL_RE.test(a)) out.push(a)
      else r.problems.push(`${name}: "${a}" is not an e-mail address`)
    }
    return [...new Set(out)]
  }
  const to = addresses('QACTIVITY_REPORT_TO')
  const from = addresses('QACTIVITY_REPORT_FROM')[0] ?? 'qactivity@localhost'
  const cron = (name: string, what: string) => {
    const expr = r.str(name)
    if (!expr) return undefined
    try {
      // loaded here only: every CLI call reads this module, few have a schedule
      const { Cron } = createRequire(import.meta.url)('croner') as typeof Croner
      new Cron(expr, { paused: true }).stop()
    } catch (err) {
      r.problems.push(`${name}: "${expr}" is not a cron expression (${messageOf(err)})`)
    }
    if (!to.length) r.problems.push(`QACTIVITY_REPORT_TO is required when ${name} is set (the ${what} go there)`)
    if (!smtpUrl) r.problems.push(`SMTP_URL is required when ${name} is set`)
    return expr
  }
  const schedule = cron('QACTIVITY_REPORT_SCHEDULE', 'digests')
  const usageSchedule = cron('QACTIVITY_USAGE_SCHEDULE', 'usage e-mails')
  const usageGroup = r.str('QACTIVITY_USAGE_GROUP') ?? 'name'
  if (!USAGE_GROUP_RE.test(usageGroup))
    r.problems.push(`QACTIVITY_USAGE_GROUP: "${usageGroup.slice(0, 80)}" must be name, cluster or label:KEY`)
  return {
    smtpUrl,
    from,
    to,
    schedule,
    usageSchedule,
    usageGroup,
    thresholdPct: r.int('QACTIVITY_REPORT_THRESHOLD_PCT', 20, 1, 1000),
    regressionRuns: r.int('QACTIVITY_REGRESSION_RUNS', 5, 1, 100),
    regressionAlert: r.bool('QACTIVITY_REGRESSION_ALERT'),
  }
}

function readSlurm(r: Reader): SlurmConfig {
  const idPrefix = r.str('QACTIVITY_SLURM_ID_PREFIX') ?? ''
  if (idPrefix && !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,23}$/.test(idPrefix))
    r.problems.push(
      `QACTIVITY_SLURM_ID_PREFIX: "${idPrefix.slice(0, 40)}" must be 1–24 characters of A–Z a–z 0–9 . _ + - ` +
        'starting with a letter or digit',
    )
  const mounts: SlurmConfig['mounts'] = []
  for (const pair of (r.str('QACTIVITY_SLURM_PATHS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [mount, path, extra] = pair.split('=')
    const m = normalizePath(mount?.trim() ?? '')
    const p = normalizePath(path?.trim() ?? '')
    if (extra !== undefined || !m.ok || !p.ok)
      r.problems.push(`QACTIVITY_SLURM_PATHS: "${pair.slice(0, 80)}" must be mount=path, both absolute (e.g. /mnt/qumulo=/)`)
    else mounts.push({ mount: m.path, path: p.path })
  }
  const clientTemplate = r.str('QACTIVITY_SLURM_CLIENT_TEMPLATE')
  if (clientTemplate && !clientTemplate.includes('{node}'))
    r.problems.push(`QACTIVITY_SLURM_CLIENT_TEMPLATE: "${clientTemplate.slice(0, 80)}" must contain {node}`)
  const clientFile = r.str('QACTIVITY_SLURM_CLIENT_FILE')
  if (clientFile && !existsSync(clientFile)) r.problems.push(`QACTIVITY_SLURM_CLIENT_FILE: no such file "${clientFile}"`)
  if (clientFile && clientTemplate) r.problems.push('QACTIVITY_SLURM_CLIENT_TEMPLATE and QACTIVITY_SLURM_CLIENT_FILE are both set: use one')
  const cluster = r.str('QACTIVITY_SLURM_CLUSTER')
  const bad = cluster ? clusterNameProblem(cluster) : undefined
  if (bad) r.problems.push(`QACTIVITY_SLURM_CLUSTER ${bad}`)
  return {
    syncSeconds: r.int('QACTIVITY_SLURM_SYNC_SECONDS', 60, 5, 3600),
    spoolDir: resolve(r.str('QACTIVITY_SLURM_SPOOL') ?? '/var/spool/qactivity-slurm'),
    cluster,
    idPrefix,
    mounts,
    clientTemplate,
    clientFile: clientFile ? resolve(clientFile) : undefined,
    slurmConf: r.str('SLURM_CONF'),
  }
}

/**
 * Reads and validates the whole configuration. Variables of the sections in `need` are required;
 * every problem is collected and thrown as one {@link ConfigError}.
 */
export function loadConfig(env: Env = process.env, need: Section[] = []): Config {
  const r = new Reader(env)
  const fromFile = r.str('QACTIVITY_CLUSTERS_FILE') !== undefined
  const qumulo = readQumulo(r, need.includes('qumulo') && !fromFile)
  const clusters = readClusters(r, qumulo)
  const pollSeconds = r.int('QACTIVITY_POLL_SECONDS', 60, 1, 3600)
  const config: Config = {
    qumulo,
    clusters,
    clusterNames: clusters.length ? clusters.map((c) => c.cluster) : qumulo.cluster ? [qumulo.cluster] : [],
    influx: readInflux(r, need.includes('influx')),
    collector: {
      pollSeconds,
      pathDepth: r.int('QACTIVITY_PATH_DEPTH', 2, 0, 64),
      watchPaths: r.paths('QACTIVITY_WATCH_PATHS'),
      resolveCacheSize: r.int('QACTIVITY_RESOLVE_CACHE_SIZE', 1_000_000, 1000, 50_000_000),
      resolveCacheTtlSeconds: r.int('QACTIVITY_RESOLVE_CACHE_TTL_SECONDS', 600, 1, 7 * 86400),
      maxSeriesPerCycle: r.int('QACTIVITY_MAX_SERIES_PER_CYCLE', 50_000, 1, 10_000_000),
      rollupSeconds: rollupPeriodOf(r, pollSeconds),
    },
    storage: {
      dataDir: resolve(r.str('QACTIVITY_DATA_DIR') ?? './data'),
      spoolMaxBytes: r.int('QACTIVITY_SPOOL_MAX_MB', 512, 1, 1024 * 1024) * 2 ** 20,
    },
    api: readApi(r, need.includes('api')),
    grafana: readGrafana(r),
    report: readReport(r),
    tags: {
      metadataRatio: r.int('QACTIVITY_TAG_METADATA_RATIO', 2, 1, 1_000_000),
      smallIoKiB: r.int('QACTIVITY_TAG_SMALL_IO_KIB', 64, 1, 1_048_576),
      writeHeavyPct: r.int('QACTIVITY_TAG_WRITE_HEAVY_PCT', 75, 1, 100),
      hogPct: r.int('QACTIVITY_TAG_HOG_PCT', 50, 1, 100),
    },
    client: {
      url: r.url('QACTIVITY_URL', r.str('QACTIVITY_URL') ?? 'http://127.0.0.1:8750', ['http:', 'https:']) ?? '',
      token: r.str('QACTIVITY_TOKEN'),
      job: r.str('QACTIVITY_JOB'),
      urlSet: r.str('QACTIVITY_URL') !== undefined,
    },
    slurm: readSlurm(r),
    logLevel: r.oneOf('QACTIVITY_LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
  }
  if (config.influx.queryLanguage === 'flux' && !config.influx.org)
    r.problems.push('INFLUX_ORG is required with INFLUX_QUERY_LANGUAGE=flux')
  if (config.grafana.url && !config.grafana.token && !config.grafana.tokenFile) {
    r.problems.push('GRAFANA_TOKEN (or GRAFANA_TOKEN_FILE) is required when GRAFANA_URL is set')
  }
  // The API answers old ranges from rollups and recent ones from raw points (stats/range.ts): the raw
  // points must outlive the newest written rollup period, which ends up to a period and a poll ago.
  const { rollupSeconds: H } = config.collector
  const kept = retentionSeconds(config.influx.retention?.raw)
  if (H && kept < 2 * H + pollSeconds)
    r.problems.push(`QACTIVITY_RAW_RETENTION (${config.influx.retention?.raw}) must be at least two QACTIVITY_ROLLUP_PERIODs and a poll`)
  // The usage e-mail reads the job store: jobs archived before it is sent would be missing from it.
  const longest = longestGapDays(config.report.usageSchedule)
  if (longest !== undefined && config.api.retentionDays < longest + 1)
    r.problems.push(
      `QACTIVITY_RETENTION_DAYS (${config.api.retentionDays}) must be at least ${Math.ceil(longest + 1)} with ` +
        `QACTIVITY_USAGE_SCHEDULE "${config.report.usageSchedule}": completed jobs are archived before a usage e-mail could count them`,
    )
  if (r.problems.length) throw new ConfigError(r.problems)
  return config
}

/** The longest time between two ticks of a cron expression over the next year, in days; undefined without one (or a bad one). */
function longestGapDays(expr: string | undefined): number | undefined {
  if (!expr) return undefined
  try {
    const { Cron } = createRequire(import.meta.url)('croner') as typeof Croner
    const runs = new Cron(expr, { paused: true }).nextRuns(400)
    let longest = 0
    for (let i = 1; i < runs.length; i++) longest = Math.max(longest, (runs[i].getTime() - runs[i - 1].getTime()) / 86_400_000)
    return runs.length > 1 ? longest : undefined
  } catch {
    return undefined // reported where the schedule is read
  }
}

/** An InfluxQL retention (`30d`, `36h`, `12w`; `INF`: forever) in seconds; Infinity for forever. */
export function retentionSeconds(d: string | undefined): number {
  const m = /^(\d+)(h|d|w)$/.exec(d ?? '30d')
  return m ? Number(m[1]) * { h: 3600, d: 86_400, w: 604_800 }[m[2] as 'h' | 'd' | 'w'] : Infinity
}

/** Loads `.env` from the working directory into `process.env` (existing variables win). */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file)
}
