import type { JobPathSource } from './watched.ts'

/**
 * Running jobs' paths from the job API, for a collector that runs apart from it: pages through
 * `GET /api/v1/jobs?status=running`.
 */
export function jobPathsFromApi(baseUrl: string, token: string | undefined, timeoutMs = 5000): JobPathSource {
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
      const page = (await res.json()) as { jobs?: Array<{ paths?: unknown }>; nextCursor?: string | null }
      for (const job of page.jobs ?? []) for (const p of Array.isArray(job.paths) ? job.paths : []) if (typeof p === 'string') paths.add(p)
      cursor = page.nextCursor ?? null
    } while (cursor)
    return [...paths]
  }
}
