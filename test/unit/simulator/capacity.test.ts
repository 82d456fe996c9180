import { afterEach, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../../simulator/server.ts'
import { call, callJson, manualClock, startTestSimulator } from './helpers.ts'

const SCENARIO = {
  workloads: [{ clients: ['10.0.1.1', '10.0.1.2'], path: '/render/shots', files: 3, ops: { 'file-iops-read': 60 } }],
  capacity: [
    {
      path: '/render',
      usedBytes: '1000000000',
      files: 100,
      directories: 5,
      growth: { bytesPerSecond: 4096.5, filesPerSecond: 1, directoriesPerSecond: 0.25 },
    },
    { path: '/projects/big', usedBytes: '9007199254740993', files: '9007199254740993', directories: 7 },
  ],
  fileSystem: { totalBytes: '100000000000000000', snapshotBytes: '123' },
}

let sim: RunningSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const aggregates = (path: string, query = '?max-entries=0') => callJson(sim!, `/v1/files/${encodeURIComponent(path)}/aggregates/${query}`)

describe('GET /v1/files/{ref}/aggregates/', () => {
  it('grows a capacity path by floor(rate × elapsed seconds) and keeps capacity = data + meta', async () => {
    const clock = manualClock()
    sim = await startTestSimulator(SCENARIO, { clock: clock.now })
    expect(await aggregates('/render')).toMatchObject({
      path: '/render/',
      total_capacity: '1000000000',
      total_files: '100',
      total_directories: '5',
      files: [],
    })
    clock.advanceSeconds(10)
    const grown = await aggregates('/render')
    const capacity = 1_000_000_000n + BigInt(Math.floor(4096.5 * 10))
    expect(grown).toMatchObject({ total_capacity: String(capacity), total_files: '110', total_directories: '7' })
    expect(BigInt(grown.total_data) + BigInt(grown.total_meta)).toBe(capacity)
    expect(grown.total_meta).toBe(String(capacity / 64n))
  })

  it('serves counts above 2^53 as exact decimal strings', async () => {
    sim = await startTestSimulator(SCENARIO, { clock: manualClock().now })
    const big = await aggregates('/projects/big')
    expect(big.total_capacity).toBe('9007199254740993')
    expect(big.total_files).toBe('9007199254740993')
    for (const [key, value] of Object.entries(big)) if (key.startsWith('total_')) expect(typeof value).toBe('string')
  })

  it('sums directories without a capacity entry, and keeps the file system consistent with the root', async () => {
    const clock = manualClock()
    sim = await startTestSimulator(SCENARIO, { clock: clock.now })
    clock.advanceSeconds(3)
    const shots = await aggregates('/render/shots')
    expect(shots).toMatchObject({ total_files: '6', total_directories: '1' })
    const root = await aggregates('/')
    expect(root.path).toBe('/')
    const fs = await callJson(sim, '/v1/file-system')
    expect(fs.block_size_bytes).toBe(4096)
    expect(BigInt(fs.total_size_bytes) - BigInt(fs.free_size_bytes)).toBe(BigInt(root.total_capacity) + 123n)
    expect(BigInt(root.total_capacity)).toBeGreaterThan(1_000_000_000n + 9007199254740993n)
  })

  it('lists the top children by capacity unless max-entries=0', async () => {
    sim = await startTestSimulator(SCENARIO, { clock: manualClock().now })
    const root = await aggregates('/', '?max-entries=1')
    expect(root.files).toHaveLength(1)
    expect(root.files[0]).toMatchObject({
      name: 'projects',
      type: 'FS_FILE_TYPE_DIRECTORY',
      capacity_usage: expect.any(String),
      num_files: expect.any(String),
    })
    const shots = await aggregates('/render/shots', '')
    expect(shots.files.map((f: { name: string }) => f.name)).toEqual([
      'f0000.bin',
      'f0001.bin',
      'f0002.bin',
      'f0003.bin',
      'f0004.bin',
      'f0005.bin',
    ])
  })

  it('accepts an id or a path with a trailing slash as ref', async () => {
    sim = await startTestSimulator(SCENARIO)
    const byPath = await aggregates('/render/')
    const byId = await callJson(sim, `/v1/files/${byPath.id}/aggregates/?max-entries=0`)
    expect(byId.path).toBe('/render/')
  })

  it('answers 400 fs_not_a_directory_error for the path of a file', async () => {
    sim = await startTestSimulator(SCENARIO)
    const res = await call(sim, `/v1/files/${encodeURIComponent('/render/shots/f0000.bin')}/aggregates/?max-entries=0`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error_class: 'fs_not_a_directory_error' })
  })

  it('answers 404 fs_no_such_entry_error for an unknown path', async () => {
    sim = await startTestSimulator(SCENARIO)
    const res = await call(sim, `/v1/files/${encodeURIComponent('/nope')}/aggregates/?max-entries=0`)
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error_class: 'fs_no_such_entry_error', stack: [], user_visible: true })
  })
})

describe('writes grow capacity', () => {
  // 2 clients × 2 files × 120 blocks/min = 8 blocks (32 KiB) per second; 2 clients × 6 new files/min = 1 file per 5 s.
  const WRITING = {
    workloads: [
      {
        clients: ['10.0.1.1', '10.0.1.2'],
        path: '/render/output/sq010',
        files: 2,
        ops: { 'file-throughput-write': 120, 'file-iops-write': 60 },
        newFilesPerMinute: 6,
      },
    ],
    capacity: [{ path: '/render', usedBytes: '1000000000', files: 100, directories: 5 }],
    fileSystem: { totalBytes: '100000000000000', snapshotBytes: '0' },
  }
  const read = async () => ({
    dir: await aggregates('/render/output/sq010', ''),
    parent: await aggregates('/render/output'),
    entry: await aggregates('/render'),
    root: await aggregates('/'),
    fs: await callJson(sim!, '/v1/file-system'),
  })

  it('adds the bytes written and the files created to the directory, its ancestors and the cluster used bytes', async () => {
    const clock = manualClock()
    sim = await startTestSimulator(WRITING, { clock: clock.now })
    const before = await read()
    clock.advanceSeconds(10.9) // whole seconds of activity count
    const after = await read()
    const written = 10n * 8n * 4096n
    const created = 2n
    const growth = written + created * 4096n
    for (const key of ['dir', 'parent', 'entry', 'root'] as const) {
      expect(BigInt(after[key].total_capacity) - BigInt(before[key].total_capacity), key).toBe(growth)
      expect(BigInt(after[key].total_data) - BigInt(before[key].total_data), key).toBe(written)
      expect(BigInt(after[key].total_files) - BigInt(before[key].total_files), key).toBe(created)
    }
    expect(BigInt(before.fs.free_size_bytes) - BigInt(after.fs.free_size_bytes)).toBe(growth)
    const file = (a: { files: Array<{ name: string; capacity_usage: string }> }) =>
      BigInt(a.files.find((f) => f.name === 'f0000.bin')!.capacity_usage)
    expect(file(after.dir) - file(before.dir)).toBe(10n * 2n * 4096n)
  })

  it('keeps nothing of a workload whose files were deleted', async () => {
    const clock = manualClock()
    sim = await startTestSimulator({ ...WRITING, workloads: [{ ...WRITING.workloads[0], deleted: true }] }, { clock: clock.now })
    const before = await aggregates('/render')
    clock.advanceSeconds(30)
    expect((await aggregates('/render')).total_capacity).toBe(before.total_capacity)
  })
})
