import { ACTIVITY_FIELDS, FIELD_OF_TYPE, type ActivityField, type ActivityType } from '../../lib/schema.ts'

/** The part of a simulator workload that fixes its activity (see simulator/scenario.ts). */
export interface WorkloadTruth {
  clients: string[]
  files: number
  /** entries are on the directory's own id: one per client and type, whatever `files` says */
  directoryIds?: boolean
  ops: Partial<Record<ActivityType, number>>
}

/**
 * Ground truth computed from the scenario numbers alone, independently of the simulator and the
 * collector: a rate is `k/60` ops/s or `4096·k/60` bytes/s per file per client, so 60 × rate is an
 * integer. Returns 60 × (sum of rates) per key and field, i.e. ops or bytes per minute.
 */
export function perMinuteTruth<T extends WorkloadTruth>(
  workloads: T[],
  keyOf: (w: T, client: string) => string,
): Map<string, Record<ActivityField, number>> {
  const out = new Map<string, Record<ActivityField, number>>()
  for (const w of workloads) {
    for (const client of w.clients) {
      const key = keyOf(w, client)
      const row = out.get(key) ?? (Object.fromEntries(ACTIVITY_FIELDS.map((f) => [f, 0])) as Record<ActivityField, number>)
      for (const [type, k] of Object.entries(w.ops) as Array<[ActivityType, number]>) {
        row[FIELD_OF_TYPE[type]] += (w.directoryIds ? 1 : w.files) * k * (type.includes('throughput') ? 4096 : 1)
      }
      out.set(key, row)
    }
  }
  return out
}
