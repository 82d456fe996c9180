import { MEASUREMENT } from '../lib/schema.ts'
import { toLine } from '../lib/influx/line-protocol.ts'
import type { DirAggregates, FileSystemStats } from '../qumulo/types.ts'

/** A `qumulo_capacity` line from a directory's aggregates (integers, exact beyond 2^53). */
export function capacityLine(cluster: string, path: string, a: DirAggregates, time: number): string {
  return toLine({
    measurement: MEASUREMENT.capacity,
    tags: { cluster, path },
    fields: {
      used_bytes: a.totalCapacity,
      data_bytes: a.totalData,
      meta_bytes: a.totalMeta,
      files: a.totalFiles,
      directories: a.totalDirectories,
    },
    time,
  })
}

/** A `qumulo_cluster` line from `GET /v1/file-system`; used = total − free (qumulo/api.md §4.1). */
export function clusterLine(cluster: string, fs: FileSystemStats, time: number): string {
  return toLine({
    measurement: MEASUREMENT.cluster,
    tags: { cluster },
    fields: {
      total_bytes: fs.totalBytes,
      free_bytes: fs.freeBytes,
      used_bytes: fs.totalBytes - fs.freeBytes,
      snapshot_bytes: fs.snapshotBytes,
    },
    time,
  })
}
