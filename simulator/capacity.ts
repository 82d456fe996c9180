import type { CapacityEntry, Scenario } from './scenario.ts'
import type { DirNode, FileNode, Tree } from './tree.ts'
import type { WriteLedger, Written } from './writes.ts'

/** Totals of one tree, the numbers behind `aggregates/` and `file-system`. */
export interface Totals {
  capacity: bigint
  data: bigint
  meta: bigint
  files: bigint
  directories: bigint
}

/** Every file created by a workload: 1 MiB of data plus one metadata block. */
export const FILE_DATA_BYTES = 1_048_576n
export const FILE_META_BYTES = 4096n
/** Metadata of a directory itself. */
export const DIR_META_BYTES = 4096n

/** Sort keys accepted by `order-by` (docs/qumulo/api.md §4.2); the named-stream and symlink ones sort by capacity. */
export const ORDER_BY = [
  'total_blocks',
  'total_datablocks',
  'total_named_stream_datablocks',
  'total_metablocks',
  'total_files',
  'total_directories',
  'total_symlinks',
  'total_other',
  'total_named_streams',
] as const
export type OrderBy = (typeof ORDER_BY)[number]

export interface CapacityModel {
  /** Totals of a directory at `elapsed` seconds since start. */
  totals(dir: DirNode, elapsedSeconds: number): Totals
  /** The `api_files_dir_aggregates` object, counts as strings, `files` the top `maxEntries` children. */
  aggregates(dir: DirNode, elapsedSeconds: number, maxEntries: number, orderBy: OrderBy): Record<string, unknown>
  /** The `api_fs_attributes` object: free = total − (root capacity + snapshots), never below 0. */
  fileSystem(elapsedSeconds: number): Record<string, unknown>
}

/**
 * A directory with a capacity entry grows at the entry's rates plus what workloads write below it; one
 * without is the sum of its files (each grown by what was written into it), the files created in it and
 * its subdirectories. Writes therefore grow a directory, its ancestors and the cluster's used bytes alike.
 */
export function createCapacityModel(tree: Tree, scenario: Scenario, writes: WriteLedger): CapacityModel {
  const entries = new Map(scenario.capacity.map((c) => [c.path, c]))
  const totals = (dir: DirNode, elapsed: number): Totals => {
    const entry = entries.get(dir.path)
    return entry
      ? plus(fromEntry(entry, elapsed), writes.under(dir.path, elapsed))
      : plus(summed(dir, elapsed, totals), writes.at(dir.path, elapsed))
  }
  const fileTotals = (file: FileNode, elapsed: number) => plus(FILE_TOTALS, { data: writes.file(file.id, elapsed), files: 0n })
  return {
    totals,
    aggregates: (dir, elapsed, maxEntries, orderBy) => ({
      path: dir.path === '/' ? '/' : dir.path + '/',
      id: dir.id,
      files: maxEntries > 0 ? topChildren(dir, elapsed, totals, fileTotals, maxEntries, orderBy) : [],
      ...aggregateFields(totals(dir, elapsed)),
    }),
    fileSystem: (elapsed) => fileSystemOf(totals(tree.root, elapsed).capacity, scenario.fileSystem),
  }
}

/** `usedBytes + floor(bytesPerSecond × elapsed)`, split into data and meta (meta = capacity / 64). */
function fromEntry(c: CapacityEntry, elapsed: number): Totals {
  const grown = (base: bigint, perSecond = 0) => base + BigInt(Math.floor(perSecond * elapsed))
  const capacity = grown(c.usedBytes, c.growth?.bytesPerSecond)
  const meta = capacity / 64n
  return {
    capacity,
    data: capacity - meta,
    meta,
    files: grown(c.files, c.growth?.filesPerSecond),
    directories: grown(c.directories, c.growth?.directoriesPerSecond),
  }
}

/** Written data, and created files with their metadata block each, added to a tree's totals. */
function plus(t: Totals, w: Written): Totals {
  const data = t.data + w.data
  const meta = t.meta + w.files * FILE_META_BYTES
  return { capacity: data + meta, data, meta, files: t.files + w.files, directories: t.directories }
}

/** A directory without a capacity entry: its own metadata, its files as created and its subdirectories' totals. */
function summed(dir: DirNode, elapsed: number, totals: CapacityModel['totals']): Totals {
  const n = BigInt(dir.files.length)
  const sum: Totals = { capacity: 0n, data: n * FILE_DATA_BYTES, meta: DIR_META_BYTES + n * FILE_META_BYTES, files: n, directories: 1n }
  for (const child of dir.children.values()) {
    const t = totals(child, elapsed)
    sum.data += t.data
    sum.meta += t.meta
    sum.files += t.files
    sum.directories += t.directories
  }
  sum.capacity = sum.data + sum.meta
  return sum
}

function aggregateFields(t: Totals): Record<string, string> {
  return {
    total_capacity: String(t.capacity),
    total_data: String(t.data),
    total_directories: String(t.directories),
    total_files: String(t.files),
    total_meta: String(t.meta),
    total_named_stream_data: '0',
    total_named_streams: '0',
    total_other_objects: '0',
    total_symlinks: '0',
  }
}

const FILE_TOTALS: Totals = {
  capacity: FILE_DATA_BYTES + FILE_META_BYTES,
  data: FILE_DATA_BYTES,
  meta: FILE_META_BYTES,
  files: 1n,
  directories: 0n,
}

function topChildren(
  dir: DirNode,
  elapsed: number,
  totals: CapacityModel['totals'],
  fileTotals: (f: FileNode, elapsed: number) => Totals,
  max: number,
  orderBy: OrderBy,
) {
  const key = sortKey(orderBy)
  const rows: Array<[DirNode | FileNode, Totals]> = [
    ...[...dir.children.values()].map((d): [DirNode, Totals] => [d, totals(d, elapsed)]),
    ...dir.files.map((f): [FileNode, Totals] => [f, fileTotals(f, elapsed)]),
  ]
  rows.sort(([a, ta], [b, tb]) => (key(tb) > key(ta) ? 1 : key(tb) < key(ta) ? -1 : a.name.localeCompare(b.name)))
  return rows.slice(0, max).map(([node, t]) => childItem(node, t))
}

function sortKey(orderBy: OrderBy): (t: Totals) => bigint {
  if (orderBy === 'total_datablocks') return (t) => t.data
  if (orderBy === 'total_metablocks') return (t) => t.meta
  if (orderBy === 'total_files') return (t) => t.files
  if (orderBy === 'total_directories') return (t) => t.directories
  return (t) => t.capacity
}

function childItem(node: DirNode | FileNode, t: Totals): Record<string, string> {
  return {
    capacity_usage: String(t.capacity),
    data_usage: String(t.data),
    id: node.id,
    meta_usage: String(t.meta),
    name: node.name,
    named_stream_data_usage: '0',
    num_directories: String(t.directories),
    num_files: String(t.files),
    num_named_streams: '0',
    num_other_objects: '0',
    num_symlinks: '0',
    type: node.kind === 'dir' ? 'FS_FILE_TYPE_DIRECTORY' : 'FS_FILE_TYPE_FILE',
  }
}

function fileSystemOf(rootCapacity: bigint, fs: Scenario['fileSystem']): Record<string, unknown> {
  const used = rootCapacity + fs.snapshotBytes
  return {
    block_size_bytes: 4096,
    free_size_bytes: String(fs.totalBytes > used ? fs.totalBytes - used : 0n),
    snapshot_size_bytes: String(fs.snapshotBytes),
    total_size_bytes: String(fs.totalBytes),
  }
}
