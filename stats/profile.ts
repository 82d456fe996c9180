import { formatBytes } from '../lib/units.ts'
import type { ActivityField } from '../lib/schema.ts'
import type { FieldAggregate } from './compute.ts'
import type { ClusterShare } from './share.ts'

/**
 * A job's I/O profile and the tags drawn from it (README "What the numbers mean"): what kind of load
 * it put on the cluster, in a few numbers and words a report can show and a query can filter on.
 */
export interface IoProfile {
  /** bytes per operation: throughput total / IOPS total, per direction; null without operations */
  meanIoSize: { read: number | null; write: number | null }
  /** metadata operations (read + write) per data operation; null without data operations */
  metadataPerDataOp: number | null
  /** reads as a share of the data operations and of the bytes moved, percent; null without any */
  readPct: { ops: number | null; bytes: number | null }
}

/** The thresholds of the automatic tags (`QACTIVITY_TAG_*`). */
export interface TagRules {
  /** `metadata-heavy` from this many metadata operations per data operation @defaultValue 2 */
  metadataRatio: number
  /** `small-io` below this mean I/O size, KiB @defaultValue 64 */
  smallIoKiB: number
  /** `write-heavy` from this share of the bytes written, percent @defaultValue 75 */
  writeHeavyPct: number
  /** `cluster-hog` from this peak share of the cluster in any field, percent @defaultValue 50 */
  hogPct: number
}

export const DEFAULT_TAG_RULES: TagRules = { metadataRatio: 2, smallIoKiB: 64, writeHeavyPct: 75, hogPct: 50 }

/** Operations a job must have done before its mix is judged: a few stray ops say nothing about a workload. */
export const MIN_OPS_TO_TAG = 1000

/** The automatic tags, in this order. */
export const TAGS = ['metadata-heavy', 'small-io', 'write-heavy', 'cluster-hog'] as const
export type JobTag = (typeof TAGS)[number]

type Activity = Record<ActivityField, Pick<FieldAggregate, 'total'>>

const ratio = (a: number, b: number) => (b > 0 ? a / b : null)

export function profileOf(a: Activity): IoProfile {
  const reads = a.iops_read.total
  const writes = a.iops_write.total
  const bytes = a.throughput_read.total + a.throughput_write.total
  const pctOf = (part: number, whole: number) => (whole > 0 ? (part / whole) * 100 : null)
  return {
    meanIoSize: { read: ratio(a.throughput_read.total, reads), write: ratio(a.throughput_write.total, writes) },
    metadataPerDataOp: ratio(a.metadata_iops_read.total + a.metadata_iops_write.total, reads + writes),
    readPct: { ops: pctOf(reads, reads + writes), bytes: pctOf(a.throughput_read.total, bytes) },
  }
}

/** The tags a job earns by the rules; a share is needed for `cluster-hog` only. */
export function tagsOf(a: Activity, share: ClusterShare | undefined, rules: TagRules = DEFAULT_TAG_RULES): JobTag[] {
  const dataOps = a.iops_read.total + a.iops_write.total
  const metaOps = a.metadata_iops_read.total + a.metadata_iops_write.total
  const bytes = a.throughput_read.total + a.throughput_write.total
  const tags: JobTag[] = []
  if (metaOps >= MIN_OPS_TO_TAG && metaOps >= rules.metadataRatio * dataOps) tags.push('metadata-heavy')
  if (dataOps >= MIN_OPS_TO_TAG && bytes / dataOps < rules.smallIoKiB * 1024) tags.push('small-io')
  if (dataOps >= MIN_OPS_TO_TAG && bytes > 0 && (a.throughput_write.total / bytes) * 100 >= rules.writeHeavyPct) tags.push('write-heavy')
  const peaks = share ? Object.values(share).map((s) => ('peak' in s ? s.peak : null)) : []
  if (peaks.some((p) => typeof p === 'number' && p >= rules.hogPct)) tags.push('cluster-hog')
  return tags
}

/** The profile in one line, as `qactivity job stats` and the report show it; parts without a value are left out. */
export function profileText(p: IoProfile | undefined): string {
  if (!p) return '—'
  const size = (what: string, v: number | null) => (v === null ? [] : [`${what} ${formatBytes(v)}/op`])
  const parts = [
    [...size('read', p.meanIoSize.read), ...size('write', p.meanIoSize.write)].join(', '),
    p.metadataPerDataOp === null ? '' : `${p.metadataPerDataOp.toFixed(2)} metadata ops per data op`,
    p.readPct.ops === null
      ? ''
      : `reads ${p.readPct.ops.toFixed(0)} % of ops${p.readPct.bytes === null ? '' : `, ${p.readPct.bytes.toFixed(0)} % of bytes`}`,
  ].filter(Boolean)
  return parts.length ? parts.join('; ') : '—'
}
