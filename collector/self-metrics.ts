import { MEASUREMENT } from '../lib/schema.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import type { WriterStats } from '../lib/influx/writer.ts'
import type { CycleReport } from './cycle.ts'

/**
 * The `qactivity_collector` point of a cycle: health as data, so a dashboard can show a silent failure.
 * Counters from the writer (`write_errors`, `dropped_points`) are cumulative since the process started.
 */
export function selfMetricsLine(cluster: string, r: CycleReport, w: WriterStats): string {
  return toLine({
    measurement: MEASUREMENT.collector,
    tags: { cluster },
    fields: {
      success: BigInt(r.success ? 1 : 0),
      cycle_seconds: r.durationSeconds,
      entries: BigInt(r.entries),
      rejected_entries: BigInt(r.rejectedEntries),
      points: BigInt(r.points),
      jobs: BigInt(r.jobs),
      jobs_stale: BigInt(r.jobsStaleSince === undefined ? 0 : 1),
      job_points: BigInt(r.jobPoints),
      series: BigInt(r.series),
      collapsed_paths: BigInt(r.collapsedPaths),
      lateness_seconds: r.latenessSeconds,
      resolve_calls: BigInt(r.resolveCalls),
      resolved_ids: BigInt(r.resolvedIds),
      cache_hit_rate: r.cacheHitRate,
      cache_size: BigInt(r.cacheSize),
      failed_endpoints: BigInt(r.failedEndpoints.length),
      failed: r.failedEndpoints.join(','),
      failed_paths: BigInt(r.failedPaths),
      write_errors: BigInt(w.writeErrors),
      dropped_points: BigInt(w.droppedLines),
      spool_bytes: BigInt(w.spoolBytes),
      skipped_ticks: BigInt(r.skippedTicks),
    },
    time: r.time,
  })
}
