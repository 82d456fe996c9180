import { MEASUREMENT } from './schema.ts'
import { toLine } from './influx/line-protocol.ts'

/** A directory tree's totals as Qumulo's aggregates give them (bytes and counts, exact beyond 2^53). */
export interface CapacityFigures {
  /** data + metadata bytes (`total_capacity`) */
  totalCapacity: bigint
  totalData: bigint
  totalMeta: bigint
  totalFiles: bigint
  totalDirectories: bigint
}

/** The whole cluster's space, bytes (`GET /v1/file-system`). */
export interface ClusterSpace {
  totalBytes: bigint
  freeBytes: bigint
  snapshotBytes: bigint
}

/** A `qumulo_capacity` line from a directory's aggregates (integers, exact beyond 2^53). */
export function capacityLine(cluster: string, path: string, a: CapacityFigures, time: number): string {
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

/** A `qumulo_cluster` line from `GET /v1/file-system`; used = total − free (docs/qumulo/api.md §4.1). */
export function clusterLine(cluster: string, fs: ClusterSpace, time: number): string {
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
