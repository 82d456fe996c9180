import { describe, expect, it } from 'vitest'
import { desiredFromRecord, labelsOf, pathFor, statusOf, type MappingOptions, type Mount } from '../../../slurm/mapping.ts'
import { slurmRecord } from '../../support/slurm-record.ts'

const record = slurmRecord

const mounts: Mount[] = [{ mount: '/mnt/qumulo', path: '/' }]
const options = (over: Partial<MappingOptions> = {}): MappingOptions => ({
  idPrefix: 'hpc-',
  slurmCluster: 'alpha',
  mounts,
  ...over,
})

describe('statusOf', () => {
  it('maps COMPLETED to succeeded and CANCELLED to cancelled', () => {
    expect(statusOf('COMPLETED')).toBe('succeeded')
    expect(statusOf('CANCELLED')).toBe('cancelled')
  })

  it.each(['FAILED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE'])('maps %s to failed', (state) => {
    expect(statusOf(state)).toBe('failed')
  })
})

describe('pathFor', () => {
  it('maps a work directory under a mount to the cluster path the mount shows', () => {
    expect(pathFor('/mnt/qumulo/projects/x', mounts)).toBe('/projects/x')
    expect(pathFor('/mnt/qumulo', mounts)).toBe('/')
    expect(pathFor('/scratch/a/b', [{ mount: '/scratch', path: '/fast' }])).toBe('/fast/a/b')
  })

  it('uses the longest matching mount, whatever the order of the list', () => {
    const both: Mount[] = [
      { mount: '/mnt/qumulo', path: '/' },
      { mount: '/mnt/qumulo/projects', path: '/proj' },
    ]
    expect(pathFor('/mnt/qumulo/projects/x', both)).toBe('/proj/x')
    expect(pathFor('/mnt/qumulo/projects/x', [...both].reverse())).toBe('/proj/x')
    expect(pathFor('/mnt/qumulo/home/y', both)).toBe('/home/y')
  })

  it('does not take a sibling with the same prefix for a path under the mount', () => {
    expect(pathFor('/mnt/qumulo2/x', mounts)).toBeUndefined()
    expect(pathFor('/mnt/qumulo2/x', [...mounts, { mount: '/mnt/qumulo2', path: '/other' }])).toBe('/other/x')
  })

  it('gives none for a work directory outside every mount, or with no mounts', () => {
    expect(pathFor('/home/ana/x', mounts)).toBeUndefined()
    expect(pathFor('/mnt', mounts)).toBeUndefined()
    expect(pathFor('/mnt/qumulo/x', [])).toBeUndefined()
  })

  it('maps everything under a mount of /', () => {
    expect(pathFor('/home/ana', [{ mount: '/', path: '/' }])).toBe('/home/ana')
    expect(pathFor('/home/ana', [{ mount: '/', path: '/nodes' }])).toBe('/nodes/home/ana')
    expect(pathFor('/', [{ mount: '/', path: '/nodes' }])).toBe('/nodes')
    // a more specific mount still wins over /
    expect(pathFor('/mnt/qumulo/a', [{ mount: '/', path: '/root' }, ...mounts])).toBe('/a')
  })

  it('gives none for a relative work directory, one with . or .. components, or an empty one', () => {
    expect(pathFor('projects/x', mounts)).toBeUndefined()
    expect(pathFor('/mnt/qumulo/../etc', mounts)).toBeUndefined()
    expect(pathFor('/mnt/qumulo/./x', mounts)).toBeUndefined()
    expect(pathFor('', mounts)).toBeUndefined()
    expect(pathFor('/mnt/qumulo/a\nb', mounts)).toBeUndefined()
  })

  it('normalises trailing and doubled slashes', () => {
    expect(pathFor('/mnt/qumulo/projects/x/', mounts)).toBe('/projects/x')
    expect(pathFor('//mnt//qumulo///projects//x//', mounts)).toBe('/projects/x')
    expect(pathFor('/mnt/qumulo/', mounts)).toBe('/')
  })
})

describe('labelsOf', () => {
  it('gives scheduler, slurm_cluster, user, account and partition', () => {
    expect(labelsOf({ user: 'ana', account: 'vfx', partition: 'gpu' }, 'alpha')).toEqual({
      scheduler: 'slurm',
      slurm_cluster: 'alpha',
      user: 'ana',
      account: 'vfx',
      partition: 'gpu',
    })
  })

  it("leaves out Slurm's (null), empty and blank values but always keeps scheduler=slurm", () => {
    expect(labelsOf({ user: '(null)', account: '', partition: '   ' }, '')).toEqual({ scheduler: 'slurm' })
    expect(labelsOf({ user: 'ana', account: '(null)', partition: '' }, 'alpha')).toEqual({
      scheduler: 'slurm',
      slurm_cluster: 'alpha',
      user: 'ana',
    })
  })

  it('trims values and replaces control characters with spaces', () => {
    expect(labelsOf({ user: ' ana ', account: 'v\tfx', partition: 'g\u0000p\u007fu\n' }, 'al\u001bpha')).toEqual({
      scheduler: 'slurm',
      slurm_cluster: 'al pha',
      user: 'ana',
      account: 'v fx',
      partition: 'g p u',
    })
  })

  it('bounds a value at 256 characters', () => {
    expect(labelsOf({ user: 'u'.repeat(300), account: '', partition: '' }, 'alpha').user).toBe('u'.repeat(256))
  })
})

describe('desiredFromRecord', () => {
  it('maps a running job: prefixed id, labels, start, expanded nodes, mapped path, no end', () => {
    const d = desiredFromRecord(record(), options())
    expect(d).toEqual({
      id: 'hpc-42',
      name: 'render',
      labels: { scheduler: 'slurm', slurm_cluster: 'alpha', user: 'ana', account: 'vfx', partition: 'gpu' },
      startedAt: '2027-01-15T08:00:00.000Z',
      nodes: ['n01', 'n02'],
      paths: ['/projects/x'],
    })
    expect(d).not.toHaveProperty('end')
  })

  it('keeps the record id as is without a prefix', () => {
    expect(desiredFromRecord(record({ id: '7_3.1' }), options({ idPrefix: '' }))?.id).toBe('7_3.1')
  })

  it('maps SUSPENDED and STOPPED as started runs without an end', () => {
    for (const state of ['SUSPENDED', 'STOPPED']) {
      const d = desiredFromRecord(record({ state }), options())
      expect(d?.id).toBe('hpc-42')
      expect(d).not.toHaveProperty('end')
    }
  })

  it('gives none for a job that never started', () => {
    expect(desiredFromRecord(record({ state: 'PENDING', startedAt: undefined }), options())).toBeUndefined()
    expect(
      desiredFromRecord(record({ state: 'CANCELLED', startedAt: undefined, endedAt: '2027-01-15T08:01:00.000Z' }), options()),
    ).toBeUndefined()
    expect(desiredFromRecord(record({ state: 'RUNNING', startedAt: undefined }), options())).toBeUndefined()
  })

  it.each(['PENDING', 'COMPLETING'])('gives none yet for a started job that is %s', (state) => {
    expect(desiredFromRecord(record({ state }), options())).toBeUndefined()
  })

  it('takes a CONFIGURING job as started (its nodes are allocated; the controller prolog runs)', () => {
    expect(desiredFromRecord(record({ state: 'CONFIGURING' }), options())).toMatchObject({ startedAt: '2027-01-15T08:00:00.000Z' })
    expect(desiredFromRecord(record({ state: 'CONFIGURING' }), options())?.end).toBeUndefined()
  })

  it.each([
    ['COMPLETED', 'succeeded'],
    ['CANCELLED', 'cancelled'],
    ['FAILED', 'failed'],
    ['TIMEOUT', 'failed'],
    ['OUT_OF_MEMORY', 'failed'],
  ] as const)('maps an ended %s job with its end: %s', (state, status) => {
    const d = desiredFromRecord(record({ state, endedAt: '2027-01-15T09:30:00.000Z' }), options())
    expect(d?.end).toEqual({ at: '2027-01-15T09:30:00.000Z', status, state })
    expect(d?.startedAt).toBe('2027-01-15T08:00:00.000Z')
  })

  it('expands a hostlist with several groups and gives no nodes for an empty one', () => {
    expect(desiredFromRecord(record({ nodes: 'n[01-02],gpu[9-10]' }), options())?.nodes).toEqual(['n01', 'n02', 'gpu9', 'gpu10'])
    expect(desiredFromRecord(record({ nodes: '' }), options())?.nodes).toEqual([])
  })

  it('gives no paths for a work directory outside every mount', () => {
    expect(desiredFromRecord(record({ workDir: '/home/ana' }), options())?.paths).toEqual([])
    expect(desiredFromRecord(record({ workDir: '' }), options())?.paths).toEqual([])
  })

  it('names a job without a name slurm-<id>, and cleans and bounds a name', () => {
    expect(desiredFromRecord(record({ name: '' }), options())?.name).toBe('slurm-42')
    // a name of blanks only (`sbatch -J ' '`): the API refuses a blank name
    expect(desiredFromRecord(record({ name: '  ' }), options())?.name).toBe('slurm-42')
    expect(desiredFromRecord(record({ name: 'a\tb\nc' }), options())?.name).toBe('a b c')
    expect(desiredFromRecord(record({ name: 'x'.repeat(250) }), options())?.name).toBe('x'.repeat(200))
  })

  it('uses the labels of the record and the configured cluster', () => {
    const d = desiredFromRecord(record({ user: 'bo', account: '(null)', partition: '' }), options({ slurmCluster: 'beta' }))
    expect(d?.labels).toEqual({ scheduler: 'slurm', slurm_cluster: 'beta', user: 'bo' })
  })
})
