import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_SCENARIO_FILE } from '../../../simulator/cli.ts'
import { loadScenario, parseScenario, ScenarioError } from '../../../simulator/scenario.ts'

const WORKLOAD = { clients: ['10.0.1.1'], path: '/render', files: 1, ops: { 'file-iops-read': 60 } }

describe('parseScenario', () => {
  it('fills in defaults and turns byte counts into BigInt', () => {
    const s = parseScenario({
      workloads: [WORKLOAD],
      capacity: [{ path: '/render', usedBytes: '18446744073709551617', files: 1, directories: 1 }],
    })
    expect(s.workloads[0]).toMatchObject({ startSeconds: 0, endSeconds: null, deleted: false, directoryIds: false })
    expect(s.capacity[0]!.usedBytes).toBe(18446744073709551617n)
    expect(s.clusterIdPrefix).toMatch(/^\d{18}$/)
  })

  it.each([
    [{ workloads: [{ ...WORKLOAD, clients: ['10.0.1.300'] }] }, 'workloads[0].clients[0]: expected an IPv4 or IPv6 address'],
    [{ workloads: [{ ...WORKLOAD, path: 'render/' }] }, 'workloads[0].path: expected a normalised absolute path'],
    [{ workloads: [{ ...WORKLOAD, ops: { 'file-iops-read': 1.5 } }] }, 'workloads[0].ops.file-iops-read: expected an integer'],
    [{ workloads: [{ ...WORKLOAD, ops: { 'file-iops-rad': 1 } }] }, 'workloads[0].ops'],
    [{ workloads: [{ ...WORKLOAD, startSeconds: 10, endSeconds: 5 }] }, 'workloads[0].endSeconds: must be greater than startSeconds'],
    [{ workloads: [{ ...WORKLOAD, deleted: true, directoryIds: true }] }, 'workloads[0].deleted'],
    [{ workloads: [{ ...WORKLOAD, extra: 1 }] }, 'workloads[0]: Unrecognized key: "extra"'],
    [{ capacity: [{ path: '/a', usedBytes: '-1', files: 0, directories: 0 }] }, 'capacity[0].usedBytes'],
    [{ fileSystem: { totalBytes: 'lots' } }, 'fileSystem.totalBytes'],
  ])('names the bad field: %j', (json, message) => {
    expect(() => parseScenario(json)).toThrow(ScenarioError)
    expect(() => parseScenario(json)).toThrow(message)
  })

  it('loads the shipped demo scenario', () => {
    const s = loadScenario(DEFAULT_SCENARIO_FILE)
    expect(s.workloads.some((w) => w.deleted)).toBe(true)
    expect(s.workloads.some((w) => w.directoryIds)).toBe(true)
    expect(s.capacity.some((c) => c.growth)).toBe(true)
  })

  it('names the file when it is not JSON', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'qact-scn-')), 'bad.json')
    writeFileSync(file, '{ nope')
    expect(() => loadScenario(file)).toThrow(`Cannot read scenario "${file}"`)
  })
})
