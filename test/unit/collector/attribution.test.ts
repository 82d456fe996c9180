import { describe, expect, it } from 'vitest'
import { JobIndex, jobActivityLines } from '../../../collector/attribution.ts'
import type { ActivitySeries } from '../../../collector/activity.ts'
import { jobActivityLine, type JobScope } from '../../../lib/job-scope.ts'

const T = 1_800_000_000 // a poll time, epoch s
const job = (id: string, clients: string[], paths: string[], startMs = (T - 600) * 1000, endMs?: number): JobScope => ({
  id,
  name: `n-${id}`,
  cluster: 'c',
  startMs,
  endMs,
  clients,
  paths,
})
const series = (clientIp: string, path: string, iopsRead = 1): ActivitySeries => ({
  clientIp,
  path,
  rates: Float64Array.from([iopsRead, 0, 0, 0, 0, 0]),
})
const ids = (index: JobIndex, client: string, path: string) =>
  index
    .match(client, path)
    .map((i) => index.jobs[i].id)
    .sort()

describe('JobIndex', () => {
  const index = new JobIndex([
    job('exact', ['10.0.0.1'], []),
    job('net', ['10.0.0.0/24'], []),
    job('wide', ['10.0.0.0/8', '10.0.0.1'], []),
    job('v6', ['fd00::/64'], []),
    job('v6one', ['fd00::1'], []),
    job('outer', [], ['/render']),
    job('inner', [], ['/render/shots/s01']),
    job('both', ['10.0.0.9'], ['/render/shots']),
    job('root', [], ['/']),
  ])

  it('matches exact addresses, every CIDR containing the client, and IPv6 in any spelling', () => {
    expect(ids(index, '10.0.0.1', '/x')).toEqual(['exact', 'net', 'root', 'wide'])
    expect(ids(index, '10.0.1.1', '/x')).toEqual(['root', 'wide'])
    expect(ids(index, '11.0.0.1', '/x')).toEqual(['root'])
    expect(ids(index, 'fd00:0:0:0::1', '/x')).toEqual(['root', 'v6', 'v6one'])
    expect(ids(index, 'fd00:0:0:1::1', '/x')).toEqual(['root'])
    expect(ids(index, '::ffff:10.0.0.1', '/x')).toEqual(['exact', 'net', 'root', 'wide'])
  })

  it('matches a path tag equal to or under a job path, never a sibling that shares its prefix', () => {
    expect(ids(index, '1.1.1.1', '/render/shots/s01/frames')).toEqual(['both', 'inner', 'outer', 'root'])
    expect(ids(index, '1.1.1.1', '/render')).toEqual(['outer', 'root'])
    expect(ids(index, '1.1.1.1', '/renderfarm')).toEqual(['root'])
    expect(ids(index, '1.1.1.1', '(unresolved)')).toEqual([])
  })

  it('counts a series matched by client and by path once for the job', () => {
    expect(ids(index, '10.0.0.9', '/render/shots')).toEqual(['both', 'net', 'outer', 'root', 'wide'])
  })
})

describe('jobActivityLines', () => {
  it('writes each matching series once per job, with the seconds of the poll inside the window', () => {
    const index = new JobIndex([
      job('a', ['10.0.0.1'], ['/p']),
      job('late', ['10.0.0.1'], [], (T - 15) * 1000), // started 15 s into the interval
      job('ended', ['10.0.0.1'], [], (T - 600) * 1000, (T - 50) * 1000), // ended 10 s into it
      job('future', ['10.0.0.1'], [], (T + 5) * 1000), // starts after the poll: nothing
    ])
    const lines = jobActivityLines([series('10.0.0.1', '/p', 7), series('10.0.0.2', '/q', 3)], index, 'c', T, 60)
    const line = (id: string, seconds: number, elapsed: number) =>
      `qactivity_job_activity,client_ip=10.0.0.1,cluster=c,job_id=${id},job_name=n-${id},path=/p ` +
      'iops_read=7,iops_write=0,metadata_iops_read=0,metadata_iops_write=0,throughput_read=0,throughput_write=0,' +
      `seconds=${seconds},elapsed_seconds=${elapsed} ${T}000`
    expect(lines).toEqual([line('a', 60, 600), line('late', 15, 15), line('ended', 10, 600)])
  })
})

describe('jobActivityLines, assembled from parts', () => {
  it('writes exactly what jobActivityLine writes, for names and paths that need escaping', () => {
    const odd = job('a b,c=d\\', ['10.0.0.1'], ['/x y,z=1'])
    const index = new JobIndex([
      { ...odd, name: 'n, m=1 \\' },
      { ...job('e', ['10.0.0.1'], []), name: '' },
    ])
    const s = { clientIp: '10.0.0.1', path: '/x y,z=1/sub', rates: Float64Array.from([1.5, 0, 1e-7, 3, 4096.25, 1e21]) }
    const lines = jobActivityLines([s], index, 'c l', T, 60)
    expect(lines).toEqual(index.jobs.map((j) => jobActivityLine(j, 'c l', s.clientIp, s.path, s.rates, 60, T)))
    expect(jobActivityLines([s], index, '', T, 60)).toEqual(
      index.jobs.map((j) => jobActivityLine(j, '', s.clientIp, s.path, s.rates, 60, T)),
    )
  })
})
