import type { ActivityType } from '../lib/schema.ts'

/** One (id, ip, type) sample: `k` operations, or 4096-byte blocks for throughput types, per minute. */
export interface ActivityItem {
  id: string
  ip: string
  type: ActivityType
  k: number
}

/** The items of one workload and when they are active: `start ≤ elapsed < end` seconds. */
export interface TimedItems {
  start: number
  end: number | null
  items: ActivityItem[]
  /** True when another workload may produce the same (id, ip, type) triple (activity on a shared directory id). */
  shared: boolean
}

/** Serves `GET /v1/analytics/activity/current` bodies, rebuilt only when the set of active workloads changes. */
export interface ActivityFeed {
  /** The JSON body (UTF-8) at `elapsed` seconds since start, filtered to `type` when given. */
  body(elapsedSeconds: number, type?: ActivityType): Uint8Array<ArrayBuffer>
}

const BLOCK_BYTES = 4096

/** 60-second average like the real cluster: k/60 ops/s, or 4096·k/60 bytes/s for throughput types. */
export function rateOf(type: ActivityType, k: number): number {
  return type.includes('throughput') ? (BLOCK_BYTES * k) / 60 : k / 60
}

export function createActivityFeed(workloads: TimedItems[]): ActivityFeed {
  const boundaries = [...new Set(workloads.flatMap((w) => (w.end === null ? [w.start] : [w.start, w.end])))].sort((a, b) => a - b)
  let cached: { interval: number; bodies: Map<string, Uint8Array<ArrayBuffer>> } | undefined

  const bodiesAt = (elapsed: number) => {
    const interval = boundaries.filter((b) => b <= elapsed).length
    if (cached?.interval !== interval) cached = { interval, bodies: new Map() }
    return cached.bodies
  }

  return {
    body: (elapsed, type) => {
      const bodies = bodiesAt(elapsed)
      const key = type ?? '*'
      let body = bodies.get(key)
      if (body === undefined) {
        body = render(activeItems(workloads, elapsed), type)
        bodies.set(key, body)
      }
      return body
    },
  }
}

/** Items of the active workloads; shared items with the same (id, ip, type) triple are merged so triples stay unique. */
function activeItems(workloads: TimedItems[], elapsed: number): ActivityItem[] {
  const own: ActivityItem[] = []
  const merged = new Map<string, ActivityItem>()
  for (const w of workloads) {
    if (elapsed < w.start || (w.end !== null && elapsed >= w.end)) continue
    if (!w.shared) for (const item of w.items) own.push(item)
    else for (const item of w.items) mergeInto(merged, item)
  }
  return [...own, ...merged.values()]
}

function mergeInto(merged: Map<string, ActivityItem>, item: ActivityItem): void {
  const key = `${item.id}|${item.ip}|${item.type}`
  const seen = merged.get(key)
  merged.set(key, seen ? { ...seen, k: seen.k + item.k } : item)
}

function render(items: ActivityItem[], type: ActivityType | undefined): Uint8Array<ArrayBuffer> {
  const entries = []
  for (const i of items) {
    if (!type || i.type === type) entries.push({ id: i.id, ip: i.ip, rate: rateOf(i.type, i.k), type: i.type })
  }
  return new TextEncoder().encode(JSON.stringify({ entries }))
}
