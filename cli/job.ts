import { rename, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { JOB_STATUSES, type Job, type JobComment } from '../jobs/types.ts'
import { JOB_ID_PATTERN, JOB_ID_RE } from '../jobs/ids.ts'
import { loadConfig, USAGE_GROUP_RE } from '../lib/config.ts'
import { UsageError, messageOf } from '../lib/errors.ts'
import { TOP_N } from '../stats/compute.ts'
import { ApiResponseError, createApiClient, type ApiClient } from './api-client.ts'
import { JOB_SUBCOMMANDS, JOB_USAGE, jobSubcommandUsage, SUBCOMMANDS, type Subcommand } from './commands.ts'
import {
  formatComparison,
  formatJob,
  formatJobTable,
  formatStats,
  formatUsage,
  type ComparisonView,
  type StatsView,
  type UsageView,
} from './format.ts'

/**
 * `qactivity job start|add-path|add-client|comment|complete|show|list|stats|compare` (docs/interface.md §2): a thin
 * client of the job API. stdout carries only the result (the new ID for `start`, tables, or the API's
 * JSON with `--json`); mutations are silent on success; errors are one line on stderr via cli/main.ts.
 * Exit codes: 0 success, 1 operational failure, 2 usage error (including the API's 400/413).
 */

/** Same rule as the API (docs/interface.md §5); checked here too because the ID goes into the URL path. */

/** What the command line asks for, before the job ID is resolved against the environment. */
export type Invocation =
  | { sub: 'help'; of?: Subcommand }
  | {
      sub: Subcommand
      json: boolean
      /** `--job` (or `show ID`, `stats ID`) */
      job?: string
      /** `compare`: the job IDs, the first being the baseline */
      jobs?: string[]
      /** JSON body of a POST */
      body?: Record<string, unknown>
      /** query of `list` */
      query?: URLSearchParams
      /** `list --all`: follow `nextCursor` */
      all?: boolean
      /** `report --pdf FILE` */
      pdf?: string
      /** `report --email ADDR…` ([] = the default recipients) */
      email?: string[]
      /** `stats --top N`: rows of the top clients and paths */
      top?: number
    }

/** One HTTP call: method and path under `/api/v1`. */
export interface PlannedRequest {
  method: 'GET' | 'POST'
  path: string
  body?: Record<string, unknown>
  query?: URLSearchParams
}

const LOCAL_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?$/i

/**
 * A time for the API. One without a zone is local time, like `date` (a bare date is local midnight),
 * and is sent in UTC; anything else is sent as typed, so that the API's own check (ISO 8601 with a
 * zone, or epoch milliseconds) decides and its message is what the user sees.
 */
export function parseTime(option: string, value: string): string {
  const m = LOCAL_TIME_RE.exec(value.trim())
  if (!m) return value
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map((x) => Number(x ?? 0))
  const t = new Date(y, mo - 1, d, h, mi, sec, Number((m[7] ?? '').padEnd(3, '0')))
  // The Date constructor rolls 2026-02-31 over into March (and a DST gap forward): only a time that reads back the same is real.
  const real =
    t.getFullYear() === y &&
    t.getMonth() === mo - 1 &&
    t.getDate() === d &&
    t.getHours() === h &&
    t.getMinutes() === mi &&
    t.getSeconds() === sec
  if (!real) throw new UsageError(`${option}: "${value}" is not a valid local time (YYYY-MM-DD[THH:MM[:SS]], or add a zone: Z or ±hh:mm)`)
  return t.toISOString()
}

/** `--label k=v` of `start` → `{k: v}`; a repeated key is a mistake, not an override. */
export function parseLabels(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const pair of pairs) {
    const i = pair.indexOf('=')
    if (i <= 0 || i === pair.length - 1) throw new UsageError(`--label must be key=value, got "${pair}"`)
    const key = pair.slice(0, i)
    if (Object.hasOwn(labels, key)) throw new UsageError(`--label ${key} given twice`)
    labels[key] = pair.slice(i + 1)
  }
  return labels
}

/** `--label k:v` of `list` (the API's filter syntax); `k=v` is accepted too, as in `start`. */
export function parseLabelFilter(filter: string): string {
  const m = /^([^:=]+)[:=](.+)$/.exec(filter)
  if (!m) throw new UsageError(`--label must be key:value, got "${filter}"`)
  return `${m[1]}:${m[2]}`
}

function positiveInt(option: string, value: string): string {
  if (!/^[1-9]\d{0,5}$/.test(value.trim())) throw new UsageError(`${option} must be a positive integer, got "${value}"`)
  return value.trim()
}

/** Parses `qactivity job …` arguments (everything after `job`). Throws {@link UsageError}. */
export function parseJobArgs(argv: string[]): Invocation {
  const [first, ...rest] = argv
  if (first === undefined) throw new UsageError(`missing subcommand: ${SUBCOMMANDS.join(', ')} (see qactivity job --help)`)
  if (first === '--help' || first === '-h' || first === 'help') return { sub: 'help' }
  if (!(SUBCOMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(`unknown job subcommand "${first}": use ${SUBCOMMANDS.join(', ')} (see qactivity job --help)`)
  }
  const sub = first as Subcommand
  const spec = JOB_SUBCOMMANDS[sub]
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }
  try {
    const r = parseArgs({ args: rest, options: spec.options, allowPositionals: spec.positionals, strict: true })
    parsed = { values: r.values as typeof parsed.values, positionals: r.positionals }
  } catch (err) {
    throw new UsageError(`job ${sub}: ${messageOf(err)}`)
  }
  const v = parsed.values
  const pos = parsed.positionals
  if (v.help) return { sub: 'help', of: sub }
  const s = (k: string) => v[k] as string | undefined
  const list = (k: string) => (v[k] as string[] | undefined) ?? []
  const inv = { sub, json: v.json === true, job: s('job') }

  switch (sub) {
    case 'start': {
      const name = s('name')
      if (name === undefined || name.trim() === '') throw new UsageError('job start: --name is required')
      const body: Record<string, unknown> = { name }
      if (s('id') !== undefined) body.id = s('id')
      if (s('cluster') !== undefined) body.cluster = s('cluster')
      if (list('path').length) body.paths = list('path')
      if (list('client').length) body.clients = list('client')
      if (list('label').length) body.labels = parseLabels(list('label'))
      if (s('comment') !== undefined) body.comment = s('comment')
      if (list('notify').length) body.notify = list('notify')
      return { ...inv, body }
    }
    case 'add-path':
      if (!pos.length) throw new UsageError('job add-path: give at least one path')
      return { ...inv, body: { paths: pos } }
    case 'add-client':
      // No address: an empty body, and the API attaches the caller's address as it sees it.
      return { ...inv, body: pos.length ? { clients: pos } : {} }
    case 'comment': {
      const text = pos.join(' ')
      if (text.trim() === '') throw new UsageError('job comment: give the comment text')
      return { ...inv, body: { text } }
    }
    case 'complete': {
      if (v.failed && v.cancelled) throw new UsageError('job complete: --failed and --cancelled do not go together')
      const body: Record<string, unknown> = { status: v.failed ? 'failed' : v.cancelled ? 'cancelled' : 'succeeded' }
      if (s('at') !== undefined) body.at = parseTime('--at', s('at')!)
      return { ...inv, body }
    }
    case 'report': {
      if (pos.length > 1) throw new UsageError('job report: at most one job ID')
      if (pos.length && inv.job !== undefined && pos[0] !== inv.job)
        throw new UsageError('job report: give the job ID either as argument or with --job, not both')
      const email = v.email === undefined ? undefined : list('email').filter((a) => a.trim() !== '')
      if (email !== undefined && s('pdf') !== undefined) throw new UsageError('job report: --pdf and --email do not go together')
      return { ...inv, job: pos[0] ?? inv.job, pdf: s('pdf'), email }
    }
    case 'show':
    case 'stats': {
      if (pos.length > 1) throw new UsageError(`job ${sub}: at most one job ID`)
      if (pos.length && inv.job !== undefined && pos[0] !== inv.job)
        throw new UsageError(`job ${sub}: give the job ID either as argument or with --job, not both`)
      const top = s('top') === undefined ? undefined : Number(positiveInt('--top', s('top')!))
      // The API answers with its top TOP_N: more rows cannot be shown, and silently showing fewer would mislead.
      if (top !== undefined && top > TOP_N)
        throw new UsageError(`--top must be from 1 to ${TOP_N} (the API returns the top ${TOP_N}), got "${s('top')}"`)
      return { ...inv, job: pos[0] ?? inv.job, top }
    }
    case 'compare': {
      const jobs = [...(inv.job !== undefined ? [inv.job] : []), ...pos]
      if (jobs.length < 2) throw new UsageError('job compare: give at least two job IDs (the first is the baseline)')
      for (const id of jobs) {
        if (!JOB_ID_RE.test(id)) throw new UsageError(`job compare: "${id.slice(0, 80)}" is not a job ID (${JOB_ID_PATTERN})`)
      }
      return { ...inv, job: undefined, jobs }
    }
    case 'usage': {
      const query = new URLSearchParams()
      if (s('since') === undefined) throw new UsageError('usage: --since is required (jobs that ended from then on)')
      query.set('since', parseTime('--since', s('since')!))
      if (s('until') !== undefined) query.set('until', parseTime('--until', s('until')!))
      const group = s('group') ?? 'name'
      if (!USAGE_GROUP_RE.test(group)) throw new UsageError(`--group must be name, cluster or label:KEY, got "${group.slice(0, 80)}"`)
      query.set('group', group)
      if (s('cluster') !== undefined) query.set('cluster', s('cluster')!)
      return { ...inv, query }
    }
    case 'list': {
      const query = new URLSearchParams()
      const status = s('status')
      if (status !== undefined) {
        if (!(JOB_STATUSES as readonly string[]).includes(status))
          throw new UsageError(`--status must be one of ${JOB_STATUSES.join(', ')}, got "${status}"`)
        query.set('status', status)
      }
      if (s('name') !== undefined) query.set('name', s('name')!)
      for (const l of list('label')) query.append('label', parseLabelFilter(l))
      if (s('since') !== undefined) query.set('since', parseTime('--since', s('since')!))
      if (s('until') !== undefined) query.set('until', parseTime('--until', s('until')!))
      if (s('limit') !== undefined) query.set('limit', positiveInt('--limit', s('limit')!))
      if (s('cursor') !== undefined) query.set('cursor', s('cursor')!)
      return { ...inv, query, all: v.all === true }
    }
  }
}

/** The job an invocation acts on: `--job`, else `QACTIVITY_JOB`. Throws {@link UsageError}. */
export function resolveJob(flagValue: string | undefined, envJob: string | undefined): string {
  const id = flagValue ?? envJob
  if (id === undefined || id === '') throw new UsageError('no job: pass --job ID or set QACTIVITY_JOB')
  if (!JOB_ID_RE.test(id)) {
    const from = flagValue !== undefined ? '--job' : 'QACTIVITY_JOB'
    throw new UsageError(`${from} "${id.slice(0, 80)}" is not a job ID ([A-Za-z0-9][A-Za-z0-9._-]{0,63})`)
  }
  return id
}

/** The HTTP call for an invocation; `envJob` is `QACTIVITY_JOB`. */
export function planRequest(inv: Exclude<Invocation, { sub: 'help' }>, envJob: string | undefined): PlannedRequest {
  if (inv.sub === 'start') return { method: 'POST', path: '/jobs', body: inv.body }
  if (inv.sub === 'list') return { method: 'GET', path: '/jobs', query: inv.query }
  if (inv.sub === 'usage') return { method: 'GET', path: '/usage', query: inv.query }
  // IDs are checked against the ID pattern when parsed; URLSearchParams encodes them (and the commas)
  if (inv.sub === 'compare') return { method: 'GET', path: '/compare', query: new URLSearchParams({ jobs: (inv.jobs ?? []).join(',') }) }
  const base = `/jobs/${encodeURIComponent(resolveJob(inv.job, envJob))}`
  switch (inv.sub) {
    case 'show':
      return { method: 'GET', path: base }
    case 'stats':
      return { method: 'GET', path: `${base}/stats` }
    case 'report':
      if (inv.email !== undefined) return { method: 'POST', path: `${base}/report/email`, body: inv.email.length ? { to: inv.email } : {} }
      return { method: 'GET', path: `${base}/report`, query: new URLSearchParams({ format: inv.pdf !== undefined ? 'pdf' : 'html' }) }
    case 'add-path':
      return { method: 'POST', path: `${base}/paths`, body: inv.body }
    case 'add-client':
      return { method: 'POST', path: `${base}/clients`, body: inv.body }
    case 'comment':
      return { method: 'POST', path: `${base}/comments`, body: inv.body }
    case 'complete':
      return { method: 'POST', path: `${base}/complete`, body: inv.body }
  }
}

interface JobPage {
  jobs: Job[]
  nextCursor: string | null
}

/** `list`: one page, or with `all` every page (a repeated cursor stops the loop rather than spinning). */
async function listJobs(api: ApiClient, req: PlannedRequest, all: boolean): Promise<JobPage> {
  const query = new URLSearchParams(req.query)
  const first = await api.request<JobPage>('GET', req.path, { query })
  if (!all) return first
  const jobs = [...(first.jobs ?? [])]
  const seen = new Set<string>()
  let cursor = first.nextCursor
  while (cursor) {
    if (seen.has(cursor)) throw new ApiResponseError(0, 'bad_response', `the API returned cursor "${cursor.slice(0, 40)}" twice; stopping`)
    seen.add(cursor)
    query.set('cursor', cursor)
    const page = await api.request<JobPage>('GET', req.path, { query })
    jobs.push(...(page.jobs ?? []))
    cursor = page.nextCursor
  }
  return { jobs, nextCursor: null }
}

/** Where output goes; injectable for tests. */
export interface JobIo {
  stdout(text: string | Buffer): void
  stderr(text: string): void
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch
  /** @defaultValue Date.now */
  now?: () => number
  /** @defaultValue 10000 */
  timeoutMs?: number
}

const processIo: JobIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
}

/** stdout for a successful call; `undefined` prints nothing. */
function renderResult(inv: Exclude<Invocation, { sub: 'help' }>, result: unknown, now: number): string | undefined {
  if (inv.json) return JSON.stringify(result ?? null, null, 2) + '\n'
  switch (inv.sub) {
    case 'start':
      return `${(result as Job).id}\n`
    case 'show':
      return formatJob(result as Job, now)
    case 'list':
      return (result as JobPage).jobs.length ? formatJobTable((result as JobPage).jobs, now) : undefined
    case 'stats':
      return formatStats(result as StatsView, inv.top)
    case 'compare':
      return formatComparison(result as ComparisonView)
    case 'usage':
      return formatUsage(result as UsageView)
    case 'report': {
      const r = result as { task?: string; to?: string[] } | undefined
      return `report queued for ${(r?.to ?? []).join(', ')}${r?.task ? ` (${r.task})` : ''}\n`
    }
    default:
      return undefined // mutations are quiet on success
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const isStats = (x: unknown) => isObject(x) && isObject(x.activity) && isObject(x.window)

/** Human output needs the §6 shape; anything else is the API's fault (exit 1), not a crash in a formatter. */
function checkShape(sub: Subcommand, result: unknown): void {
  if (sub === 'stats' && !isStats(result))
    throw new ApiResponseError(0, 'bad_response', 'the API answered the stats request without activity and window')
  if (sub === 'compare') {
    const ok =
      isObject(result) &&
      Array.isArray(result.jobs) &&
      result.jobs.length > 0 &&
      result.jobs.every(isStats) &&
      (result.deltas === undefined || Array.isArray(result.deltas))
    if (!ok) throw new ApiResponseError(0, 'bad_response', 'the API answered the compare request without a list of job stats')
  }
}

/** `job report` as HTML on stdout or a PDF file (`-` = stdout); a file is written only when the whole report arrived. */
async function downloadReport(api: ApiClient, req: PlannedRequest, pdf: string | undefined, io: JobIo): Promise<number> {
  let doc: { contentType: string; body: Buffer }
  try {
    doc = await api.download(req.path, req.query)
  } catch (err) {
    if (err instanceof ApiResponseError && err.isUserInput) throw new UsageError(err.message)
    throw err
  }
  const want = pdf !== undefined ? 'application/pdf' : 'text/html'
  if (!doc.contentType.startsWith(want))
    throw new ApiResponseError(
      0,
      'bad_response',
      `the API answered the report request with ${doc.contentType || 'no content type'}, not ${want}`,
    )
  if (pdf === undefined || pdf === '-') io.stdout(pdf === undefined ? doc.body.toString('utf8') : doc.body)
  else {
    await writeFile(`${pdf}.part`, doc.body)
    await rename(`${pdf}.part`, pdf)
  }
  return 0
}

/** `qactivity job …`: resolves to the exit code; throws UsageError (exit 2) or another error (exit 1). */
export async function runJobCommand(argv: string[], env: NodeJS.ProcessEnv, io: JobIo = processIo): Promise<number> {
  const inv = parseJobArgs(argv)
  if (inv.sub === 'help') {
    io.stdout(inv.of ? jobSubcommandUsage(inv.of) : JOB_USAGE)
    return 0
  }
  const client = loadConfig(env).client
  const req = planRequest(inv, client.job)
  const api = createApiClient({
    url: client.url,
    token: client.token,
    fetch: io.fetch,
    timeoutMs: io.timeoutMs ?? (inv.sub === 'report' ? 120_000 : undefined),
  })
  if (inv.sub === 'report' && req.method === 'GET') return downloadReport(api, req, inv.pdf, io)
  let result: unknown
  try {
    result =
      inv.sub === 'list'
        ? await listJobs(api, req, inv.all === true)
        : await api.request<Job | JobComment>(req.method, req.path, { body: req.body, query: req.query })
  } catch (err) {
    // A 400 (validation) or 413 (too large) is about what the user typed: a usage error, exit 2.
    if (err instanceof ApiResponseError && err.isUserInput) throw new UsageError(err.message)
    throw err
  }
  if (inv.sub === 'start' && !inv.json && typeof (result as Job | undefined)?.id !== 'string') {
    throw new ApiResponseError(0, 'bad_response', 'the API created the job but its answer has no id')
  }
  if (!inv.json) checkShape(inv.sub, result)
  const now = (io.now ?? Date.now)()
  const out = renderResult(inv, result, now)
  if (out !== undefined) io.stdout(out)
  if (inv.sub === 'list' && !inv.json) {
    const page = result as JobPage
    if (!page.jobs.length) io.stderr('no jobs found\n')
    else if (page.nextCursor) io.stderr(`(more jobs: --all lists every page, or --cursor ${page.nextCursor} the next one)\n`)
  }
  return 0
}
