import { ACTIVITY_TYPES } from '../lib/schema.ts'
import { createActivityFeed, type ActivityFeed, type ActivityItem } from './activity.ts'
import { createCapacityModel, type CapacityModel } from './capacity.ts'
import type { Scenario, Workload } from './scenario.ts'
import { createTree, type Tree } from './tree.ts'
import { createWriteLedger, type WriteStream } from './writes.ts'

/** Everything the simulator serves, built once from a scenario. */
export interface Cluster {
  tree: Tree
  activity: ActivityFeed
  capacity: CapacityModel
}

export function buildCluster(scenario: Scenario): Cluster {
  const tree = createTree(scenario.clusterIdPrefix)
  const timed = scenario.workloads.map((w) => ({
    start: w.startSeconds,
    end: w.endSeconds,
    items: workloadItems(tree, w),
    shared: w.directoryIds,
  }))
  const writes = scenario.workloads.map((w, i) => writeStream(w, timed[i].items))
  for (const c of scenario.capacity) tree.ensureDir(c.path)
  return { tree, activity: createActivityFeed(timed), capacity: createCapacityModel(tree, scenario, createWriteLedger(writes)) }
}

/** What a workload writes stays in its directory, unless its files were deleted since. */
function writeStream(w: Workload, items: ActivityItem[]): WriteStream {
  const kept = !w.deleted
  return {
    dir: w.path,
    start: w.startSeconds,
    end: w.endSeconds,
    items: kept ? items.filter((i) => i.type === 'file-throughput-write') : [],
    filesPerMinute: kept ? w.newFilesPerMinute * w.clients.length : 0,
  }
}

/**
 * Each client gets its own `files` files under the workload's directory, so file items never collide
 * with another workload's; every file (or, with `directoryIds`, the directory itself) has one item per
 * activity type with a non-zero count.
 */
function workloadItems(tree: Tree, w: Workload): ActivityItem[] {
  const dir = tree.ensureDir(w.path)
  const items: ActivityItem[] = []
  for (const ip of w.clients) {
    const files = tree.addFiles(dir, w.files, w.deleted)
    for (const id of w.directoryIds ? [dir.id] : files) {
      for (const type of ACTIVITY_TYPES) {
        const k = w.ops[type]
        if (k) items.push({ id, ip, type, k })
      }
    }
  }
  return items
}
