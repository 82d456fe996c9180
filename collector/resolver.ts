import { IdPathCache } from './id-cache.ts'
import { directoryOf } from './path-rule.ts'
import pLimit from 'p-limit'

/** Most ids per `POST /v1/files/resolve` (docs/qumulo/api.md §3: no documented limit; consumers use ≤ 1000). */
export const RESOLVE_BATCH = 1000

/** The one call the resolver needs from the Qumulo client. */
export interface ResolveApi {
  resolve(ids: string[]): Promise<Map<string, string>>
}

/** What one {@link PathResolver.resolveAll} did, for self-metrics. */
export interface ResolveReport {
  /** id → directory of the object (see directoryOf); `""` for deleted ids and ids whose batch failed. */
  directories: Map<string, string>
  calls: number
  hits: number
  misses: number
  /** Ids whose resolve request failed (they are retried next cycle). */
  failed: number
  errors: unknown[]
}

/**
 * Maps activity ids to their directories, asking Qumulo only for ids not in the cache, in batches of
 * at most {@link RESOLVE_BATCH}. Deleted ids (`""`) are cached too: they never come back.
 */
export class PathResolver {
  private readonly cache: IdPathCache

  /**
   * @param max - most cached ids
   * @param ttlMs - longest time a resolved path is reused, in milliseconds
   * @param concurrency - resolve requests in flight at once @defaultValue 2
   */
  constructor(
    private readonly api: ResolveApi,
    max: number,
    ttlMs: number,
    private readonly concurrency = 2,
  ) {
    this.cache = new IdPathCache(max, ttlMs)
  }

  get size(): number {
    return this.cache.size
  }

  async resolveAll(ids: Iterable<string>): Promise<ResolveReport> {
    const report: ResolveReport = { directories: new Map(), calls: 0, hits: 0, misses: 0, failed: 0, errors: [] }
    const missing: string[] = []
    for (const id of ids) {
      if (report.directories.has(id)) continue
      const path = this.cache.get(id)
      if (path === undefined) {
        missing.push(id)
        report.directories.set(id, '') // placeholder keeps the dedup cheap; replaced or deleted below
      } else {
        report.hits++
        report.directories.set(id, path)
      }
    }
    report.misses = missing.length
    const batches: string[][] = []
    for (let i = 0; i < missing.length; i += RESOLVE_BATCH) batches.push(missing.slice(i, i + RESOLVE_BATCH))
    const limit = pLimit(this.concurrency)
    await Promise.all(batches.map((batch) => limit(() => this.resolveBatch(batch, report))))
    return report
  }

  private async resolveBatch(batch: string[], report: ResolveReport): Promise<void> {
    report.calls++
    try {
      const served = await this.api.resolve(batch)
      for (const id of batch) {
        // An id missing from the answer is treated like a deleted one but not cached: it may resolve later.
        const path = served.get(id)
        if (path === undefined) continue
        const dir = directoryOf(path)
        report.directories.set(id, dir)
        this.cache.set(id, dir)
      }
    } catch (err) {
      report.failed += batch.length
      report.errors.push(err)
    }
  }
}
