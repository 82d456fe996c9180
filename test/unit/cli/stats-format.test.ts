import { describe, expect, it } from 'vitest'
import { TOP_N } from '../../../stats/compute.ts'
import {
  formatAggregate,
  formatBytes,
  formatComparison,
  formatCount,
  formatByteRate,
  formatOps,
  formatPct,
  formatStats,
  formatUsage,
  formatWindow,
  type StatsView,
} from '../../../cli/format.ts'

const GiB = 2 ** 30

describe('unit formatters', () => {
  it.each([
    [0, '0 ops'],
    [-0, '0 ops'],
    [0.004, '<0.01 ops'],
    [-0.004, '>-0.01 ops'],
    [0.35, '0.35 ops'],
    [1.5, '1.5 ops'],
    [9.996, '10 ops'],
    [12.34, '12.3 ops'],
    [99.96, '100 ops'],
    [999, '999 ops'],
    [999.4, '999 ops'],
    [999.6, '1.00 k ops'],
    [1000, '1.00 k ops'],
    [1023, '1.02 k ops'],
    [1024, '1.02 k ops'],
    [12_345, '12.3 k ops'],
    [999_499, '999 k ops'],
    [999_500, '1.00 M ops'],
    [1_234_567, '1.23 M ops'],
    [1.5 * GiB, '1.61 G ops'],
    [-1_234_567, '-1.23 M ops'],
    [1e30, '1000000000000 E ops'],
    [NaN, '-'],
    [Infinity, '-'],
    [null, '-'],
    [undefined, '-'],
  ])('formatOps(%s) = %s', (n, expected) => {
    expect(formatOps(n)).toBe(expected)
  })

  it('formatOps: the unit is a parameter (rates)', () => {
    expect(formatOps(1500, 'ops/s')).toBe('1.50 k ops/s')
    expect(formatOps(12, 'ops/s')).toBe('12 ops/s')
  })

  it.each([
    [0, '0 B/s'],
    [0.3, '<1 B/s'],
    [-0.3, '>-1 B/s'],
    [0.6, '1 B/s'],
    [999, '999 B/s'],
    [1023, '1023 B/s'],
    [1024, '1.0 KiB/s'],
    [1_048_576, '1.0 MiB/s'],
    [12_345_678, '11.8 MiB/s'],
    [1.5 * GiB, '1.5 GiB/s'],
    [-12_345_678, '-11.8 MiB/s'],
    [NaN, '-'],
    [null, '-'],
  ])('formatByteRate(%s) = %s (binary, like byte totals)', (n, expected) => {
    expect(formatByteRate(n)).toBe(expected)
  })

  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1000 B'],
    [1023, '1023 B'],
    [1023.4, '1023 B'],
    [1023.6, '1.0 KiB'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [1.5 * GiB, '1.5 GiB'],
    [13_207_024_435, '12.3 GiB'],
    [-1.5 * GiB, '-1.5 GiB'],
    [NaN, '-'],
    [-Infinity, '-'],
    [null, '-'],
    [undefined, '-'],
  ])('formatBytes(%s) = %s (numbers from the stats JSON)', (n, expected) => {
    expect(formatBytes(n)).toBe(expected)
  })

  it('formatBytes/formatCount signed: deltas', () => {
    expect(formatBytes(2 * GiB, true)).toBe('+2.0 GiB')
    expect(formatBytes(-0.5 * GiB, true)).toBe('-512.0 MiB')
    expect(formatBytes(0, true)).toBe('0 B')
    expect(formatBytes(null, true)).toBe('-')
    expect(formatCount(1500, true)).toBe('+1,500')
    expect(formatCount(-2, true)).toBe('-2')
    expect(formatCount(0, true)).toBe('0')
    expect(formatCount(NaN, true)).toBe('-')
    expect(formatCount(null)).toBe('-')
  })

  it.each([
    [12.345, '+12.3 %'],
    [-5, '-5.0 %'],
    [0, '0.0 %'],
    [-0.04, '0.0 %'],
    [0.05, '+0.1 %'],
    [-100, '-100.0 %'],
    [123_456.7, '+123,456.7 %'],
    [null, 'n/a'],
    [undefined, 'n/a'],
    [NaN, 'n/a'],
    [Infinity, 'n/a'],
  ])('formatPct(%s) = %s', (pct, expected) => {
    expect(formatPct(pct)).toBe(expected)
  })

  it('formatAggregate: ops fields in ops and ops/s, throughput in binary bytes and bytes/s', () => {
    expect(formatAggregate('iops_read', 'total', 1_234_567)).toBe('1.23 M ops')
    expect(formatAggregate('metadata_iops_write', 'mean', 1500)).toBe('1.50 k ops/s')
    expect(formatAggregate('iops_write', 'peak', 999)).toBe('999 ops/s')
    expect(formatAggregate('throughput_read', 'total', 1.5 * GiB)).toBe('1.5 GiB')
    expect(formatAggregate('throughput_write', 'mean', 12_345_678)).toBe('11.8 MiB/s')
    expect(formatAggregate('throughput_write', 'peak', NaN)).toBe('-')
    expect(formatAggregate('throughput_read', 'total', undefined)).toBe('-')
  })

  it('formatWindow: start → end (duration); running jobs end in "running"', () => {
    const window = { start: '2026-11-23T10:00:00.000Z', end: '2026-11-23T10:12:05.000Z', seconds: 725 }
    expect(formatWindow({ status: 'succeeded', window })).toBe('2026-11-23 10:00:00Z → 2026-11-23 10:12:05Z  (12m 05s)')
    expect(formatWindow({ status: 'running', live: true, window })).toBe('2026-11-23 10:00:00Z → running  (12m 05s so far)')
    expect(formatWindow({ status: 'failed', window: { start: 'x', end: null, seconds: NaN } })).toBe('x → -  (-)')
  })
})

const STATS: StatsView = {
  job: 'j1',
  name: 'render',
  status: 'succeeded',
  live: false,
  polls: 13,
  intervalSeconds: 60,
  window: { start: '2026-11-23T10:00:00.000Z', end: '2026-11-23T10:12:05.000Z', seconds: 725 },
  activity: {
    iops_read: { total: 1_234_567, mean: 1702.85, peak: 4500 },
    iops_write: { total: 999, mean: 1.378, peak: 12 },
    metadata_iops_read: { total: 0, mean: 0, peak: 0 },
    metadata_iops_write: { total: 42.5, mean: 0.0586, peak: 0.7 },
    throughput_read: { total: 13_207_024_435, mean: 18_216_585, peak: 52_428_800 },
    throughput_write: { total: 1536, mean: 2.1, peak: 100 },
  },
  capacity: [
    {
      path: '/render/shots',
      startAt: '2026-11-23T10:00:00.400Z',
      endAt: '2026-11-23T10:13:30.100Z',
      usedBytes: { start: GiB, end: 3 * GiB, delta: 2 * GiB },
      files: { start: 1000, end: 2500, delta: 1500 },
      directories: { start: 10, end: 12, delta: 2 },
    },
    {
      path: '/render/cache',
      startAt: '2026-11-23T10:00:00.500Z',
      endAt: null,
      usedBytes: { start: 5e9, end: null, delta: null },
      files: { start: 1, end: null, delta: null },
      directories: { start: 1, end: null, delta: null },
      error: 'Qumulo unreachable',
    },
  ],
  topClients: [
    { client: '10.0.0.1', ops: 1_000_000, bytes: 10 * GiB },
    { client: 'fd00::1', ops: 235_566, bytes: 3 * GiB },
  ],
  topPaths: [{ path: '/render/shots', ops: 1_235_566, bytes: 13 * GiB }],
  previousRuns: [{ id: 'j0', startedAt: '2026-11-22T10:00:00Z', status: 'succeeded' }],
}

describe('formatStats', () => {
  it('header, activity with units, capacity growth, top clients/paths, previous runs', () => {
    expect(formatStats(STATS)).toBe(
      [
        'job     j1  render',
        'status  succeeded',
        'window  2026-11-23 10:00:00Z → 2026-11-23 10:12:05Z  (12m 05s)',
        'polls   13 (every 60 s)',
        'units   ops, ops/s: k = 10³, M = 10⁶; bytes, bytes/s: KiB = 1024 B, MiB = 1024 KiB, GiB = 1024 MiB, TiB = 1024 GiB',
        '',
        'ACTIVITY             TOTAL       MEAN          PEAK',
        'iops_read            1.23 M ops  1.70 k ops/s  4.50 k ops/s',
        'iops_write           999 ops     1.38 ops/s    12 ops/s',
        'metadata_iops_read   0 ops       0 ops/s       0 ops/s',
        'metadata_iops_write  42.5 ops    0.06 ops/s    0.7 ops/s',
        'throughput_read      12.3 GiB    17.4 MiB/s    50.0 MiB/s',
        'throughput_write     1.5 KiB     2 B/s         100 B/s',
        '',
        'CAPACITY GROWTH  USED      FILES   DIRECTORIES  READ AT (START → END)',
        '/render/shots    +2.0 GiB  +1,500  +2           2026-11-23 10:00:00Z → 10:13:30Z',
        '/render/cache    -         -       -            2026-11-23 10:00:00Z → -          error: Qumulo unreachable',
        '',
        'TOP CLIENTS  OPS         BYTES',
        '10.0.0.1     1.00 M ops  10.0 GiB',
        'fd00::1      236 k ops   3.0 GiB',
        '',
        'TOP PATHS      OPS         BYTES',
        '/render/shots  1.24 M ops  13.0 GiB',
        '',
        'PREVIOUS RUNS  STARTED               STATUS',
        'j0             2026-11-22 10:00:00Z  succeeded',
        '',
      ].join('\n'),
    )
  })

  it("the job's share of its cluster, where the stats have one: total and peak per field, capacity growth", () => {
    const none = { total: null, peak: null }
    const out = formatStats({
      ...STATS,
      share: {
        iops_read: { total: 12.345, peak: 80 },
        iops_write: { total: 0, peak: 0 },
        metadata_iops_read: none,
        metadata_iops_write: none,
        throughput_read: { total: 100, peak: 100 },
        throughput_write: none,
        used_bytes: { total: 2.5 },
      },
    })
    expect(out).toMatch(/^ACTIVITY +TOTAL +MEAN +PEAK +OF CLUSTER +PEAK OF CLUSTER$/m)
    expect(out).toMatch(/^iops_read +1\.23 M ops +1\.70 k ops\/s +4\.50 k ops\/s +12\.3 % +80\.0 %$/m)
    expect(out).toMatch(/^metadata_iops_read .* - +-$/m)
    expect(out).toContain("\ncapacity growth: 2.5 % of the cluster's\n")
    expect(formatStats(STATS)).not.toContain('OF CLUSTER')
  })

  it('the changes against the median of the last runs, in words', () => {
    const flags = [
      { text: 'read IOPS 2.3× the median of the last 5 runs' },
      { text: 'bytes written 40 % of the median of the last 5 runs' },
    ]
    expect(formatStats({ ...STATS, regression: { runs: 5, flags } })).toContain(
      '\nagainst the median of the last 5 runs: read IOPS 2.3× the median of the last 5 runs; ' +
        'bytes written 40 % of the median of the last 5 runs\n',
    )
    expect(formatStats({ ...STATS, regression: { runs: 1, flags: [] } })).toContain('\nagainst the last run: no change flagged\n')
  })

  it('the I/O profile and the automatic tags in the header block', () => {
    const out = formatStats({
      ...STATS,
      profile: { meanIoSize: { read: 4096, write: null }, metadataPerDataOp: 0.5, readPct: { ops: 100, bytes: 100 } },
      tags: ['small-io', 'cluster-hog'],
    })
    expect(out).toContain('\nprofile  read 4.0 KiB/op; 0.50 metadata ops per data op; reads 100 % of ops, 100 % of bytes\n')
    expect(out).toContain('\ntags     small-io, cluster-hog\n')
    expect(formatStats({ ...STATS, tags: [] })).toContain('\ntags    -\n')
  })

  it('a running job with nothing yet: "running", no empty sections, missing fields as -', () => {
    const out = formatStats({
      job: 'j2',
      name: 'render',
      status: 'running',
      live: true,
      window: { start: '2026-11-23T10:00:00.000Z', end: '2026-11-23T10:00:30.000Z', seconds: 30 },
      activity: { iops_read: { total: 0, mean: 0, peak: 0 } },
    })
    expect(out).toContain('window  2026-11-23 10:00:00Z → running  (30s so far)\n')
    expect(out).toMatch(/^iops_write\s+-\s+-\s+-$/m)
    expect(out).not.toMatch(/CAPACITY|TOP CLIENTS|TOP PATHS|PREVIOUS RUNS|polls/)
  })

  it(`top clients and paths: the first ${TOP_N}, or the first \`top\``, () => {
    const many = Array.from({ length: TOP_N + 2 }, (_, i) => ({ client: `client-${i}`, ops: 100 - i, bytes: 0 }))
    const out = formatStats({ ...STATS, topClients: many })
    expect(out).toContain(`client-${TOP_N - 1} `)
    expect(out).not.toContain(`client-${TOP_N} `)
    const three = formatStats({ ...STATS, topClients: many }, 3)
    expect(three).toContain('client-2 ')
    expect(three).not.toContain('client-3 ')
  })

  it('names, paths and clients from the API cannot inject terminal escapes', () => {
    const out = formatStats({
      ...STATS,
      name: 'x\x1b[2J',
      topPaths: [{ path: '/a\x1b]0;t\x07', ops: 1, bytes: 1 }],
      capacity: [{ path: '/p\nq', error: '\x9bboom' }],
    })
    expect(out).not.toMatch(/[\x1b\x07\x9b]/)
    expect(out).toContain('x\\x1b[2J')
    expect(out).toContain('/p\\x0aq')
  })
})

describe('formatComparison', () => {
  const second: StatsView = {
    ...STATS,
    job: 'j2',
    status: 'running',
    live: true,
    window: { start: '2026-11-24T10:00:00.000Z', end: '2026-11-24T10:13:20.000Z', seconds: 800 },
    activity: { ...STATS.activity, iops_read: { total: 1_400_000, mean: 0, peak: 0 }, metadata_iops_read: { total: 5, mean: 0, peak: 0 } },
  }
  const d = (abs: number, pct: number | null) => ({ total: { abs, pct }, mean: { abs: 0, pct: 0 }, peak: { abs: 0, pct: 0 } })
  const deltas = [
    {
      job: 'j2',
      activity: {
        iops_read: d(165_433, 13.4),
        iops_write: d(0, 0),
        metadata_iops_read: d(5, null),
        metadata_iops_write: d(0, 0),
        throughput_read: d(0, 0),
        throughput_write: d(-1536, -100),
      },
    },
  ]

  it('one column per job, one row per total, % change against the first (n/a when the first is 0)', () => {
    expect(formatComparison({ jobs: [STATS, second], deltas })).toBe(
      [
        'units  ops, ops/s: k = 10³, M = 10⁶; bytes, bytes/s: KiB = 1024 B, MiB = 1024 KiB, GiB = 1024 MiB, TiB = 1024 GiB',
        "delta  change of each job's total against the first job (j1)",
        '',
        'JOB                        j1 (baseline)         j2',
        'name                       render                render',
        'started                    2026-11-23 10:00:00Z  2026-11-24 10:00:00Z',
        'status                     succeeded             running',
        'duration                   12m 05s               13m 20s so far',
        'iops_read total            1.23 M ops            1.40 M ops (+13.4 %)',
        'iops_write total           999 ops               999 ops (0.0 %)',
        'metadata_iops_read total   0 ops                 5 ops (n/a)',
        'metadata_iops_write total  42.5 ops              42.5 ops (0.0 %)',
        'throughput_read total      12.3 GiB              12.3 GiB (0.0 %)',
        'throughput_write total     1.5 KiB               1.5 KiB (-100.0 %)',
        '',
      ].join('\n'),
    )
  })

  it('deltas are matched by job ID when not in order; a missing delta is n/a', () => {
    const third = { ...second, job: 'j3' }
    const out = formatComparison({ jobs: [STATS, third, second], deltas: [deltas[0]] })
    const row = out.split('\n').find((l) => l.startsWith('iops_read total'))!
    expect(row).toMatch(/1\.23 M ops\s+1\.40 M ops \(n\/a\)\s+1\.40 M ops \(\+13\.4 %\)$/)
    expect(out.split('\n').find((l) => l.startsWith('JOB'))).toMatch(/^JOB\s+j1 \(baseline\)\s+j3\s+j2$/)
  })
})

describe('formatUsage', () => {
  it('one row per group: jobs, all operations, all bytes, used growth and the shares of the cluster', () => {
    const out = formatUsage({
      group: 'label:project',
      since: '2026-11-01T00:00:00Z',
      until: '2026-12-01T00:00:00Z',
      jobs: 3,
      pending: 1,
      rows: [
        {
          group: 'p1',
          jobs: 2,
          total: {
            iops_read: 1000,
            iops_write: 500,
            metadata_iops_read: 0,
            metadata_iops_write: 0,
            throughput_read: 1024,
            throughput_write: 0,
          },
          usedBytesDelta: 2048,
          share: { iops_read: 12.5, iops_write: null, throughput_read: 50, throughput_write: 0 },
        },
      ],
    })
    expect(out).toContain('label:project: 3 jobs ended 2026-11-01 00:00:00Z → 2026-12-01 00:00:00Z (1 not summarised yet, not counted)\n')
    expect(out).toMatch(/^GROUP +JOBS +OPS +BYTES +USED +READS % +WRITES % +READ BYTES % +WRITTEN %$/m)
    expect(out).toMatch(/^p1 +2 +1\.50 k ops +1\.0 KiB +\+2\.0 KiB +12\.5 % +- +50\.0 % +0\.0 %$/m)
  })
})
