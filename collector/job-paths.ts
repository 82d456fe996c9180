import type { JobPathSource } from './watched.ts'

/**
 * Job paths from the job API, for a collector that runs apart from it: pages through
 * `GET /api/v1/jobs?status=running` and keeps the jobs of `cluster` (and jobs tied to no cluster).
 * The list has no end times, so a path that left it (its job completed) stays watched for one more
 * poll: the fetch of the poll stamped t happens at or after t, so the job ended at or before t, and
 * the next poll (t + I) is already at or after end + I (README, "Window edges").
 */
export function jobPathsFromApi(baseUrl: string, token: string | undefined, cluster: string, timeoutMs = 5000): JobPathSource {
  let previous = new Set<string>()
  return async () => {
    const paths = new Set<string>()
    let cursor: string | null = null
    do {
      const url = new URL('/api/v1/jobs', baseUrl)
      url.searchParams.set('status', 'running')
      url.searchParams.set('limit', '500')
      if (cursor) url.searchParams.set('cursor', cursor)
      const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) })
      if (!res.ok) throw new Error(`[GET] ${url.pathname}: ${res.status} ${res.statusText}`)
      const page = (await res.json()) as { jobs?: Array<{ paths?: unknown; cluster?: unknown }>; nextCursor?: string | null }
      for (const job of page.jobs ?? []) {
        // An API older than clusters sends none; "" is a job tied to no cluster: watched everywhere.
        if (typeof job.cluster === 'string' && job.cluster !== '' && job.cluster !== cluster) continue
        for (const p of Array.isArray(job.paths) ? job.paths : []) if (typeof p === 'string') paths.add(p)
      }
      cursor = page.nextCursor ?? null
    } while (cursor)
    const watched = [...new Set([...paths, ...previous])]
    previous = paths
    return watched
  }
}
