import type { JobScope } from '../lib/job-scope.ts'
import type { JobSource } from './watched.ts'

/** The fields of a listed job a collector reads; anything else in the answer is ignored. */
interface ListedJob {
  id?: unknown
  name?: unknown
  cluster?: unknown
  startedAt?: unknown
  paths?: unknown
  clients?: unknown
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/**
 * Jobs from the job API, for a collector that runs apart from it: pages through
 * `GET /api/v1/jobs?status=running` and keeps the jobs of `cluster` (and jobs tied to no cluster).
 * The list has no end times, so a job that left it (it completed) is kept for one more poll with an
 * open window: the fetch of the poll stamped t happens at or after t, so the job ended at or before
 * t, and the next poll (t + I) is already at or after end + I (README, "Window edges"). Its points
 * of that poll carry `seconds` as if it still ran; the stats weigh every point by the job's real window.
 */
export function jobsFromApi(baseUrl: string, token: string | undefined, cluster: string, timeoutMs = 5000): JobSource {
  let previous = new Map<string, JobScope>()
  return async () => {
    const current = new Map<string, JobScope>()
    let cursor: string | null = null
    do {
      const url = new URL('/api/v1/jobs', baseUrl)
      url.searchParams.set('status', 'running')
      url.searchParams.set('limit', '500')
      if (cursor) url.searchParams.set('cursor', cursor)
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) })
      if (!res.ok) throw new Error(`[GET] ${url.pathname}: ${res.status} ${res.statusText}`)
      const page = (await res.json()) as { jobs?: ListedJob[]; nextCursor?: string | null }
      for (const job of page.jobs ?? []) {
        // An API older than clusters sends none; "" is a job tied to no cluster: it belongs to every cluster.
        const jobCluster = typeof job.cluster === 'string' ? job.cluster : ''
        if (jobCluster !== '' && jobCluster !== cluster) continue
        const startMs = typeof job.startedAt === 'string' ? Date.parse(job.startedAt) : NaN
        if (typeof job.id !== 'string' || !Number.isFinite(startMs)) continue
        const name = typeof job.name === 'string' ? job.name : job.id
        current.set(job.id, { id: job.id, name, cluster: jobCluster, startMs, clients: strings(job.clients), paths: strings(job.paths) })
      }
      cursor = page.nextCursor ?? null
    } while (cursor)
    const scopes = [...current.values(), ...[...previous.values()].filter((j) => !current.has(j.id))]
    previous = current
    return scopes
  }
}
