import { describe, expect, it } from 'vitest'
import type { Job } from '../../../jobs/types.ts'
import {
  formatBytes,
  formatComments,
  formatCount,
  formatDuration,
  formatJob,
  formatJobTable,
  formatTime,
  safe,
  table,
} from '../../../cli/format.ts'

const NOW = Date.parse('2026-11-23T12:00:00Z')

function job(over: Partial<Job> = {}): Job {
  return {
    id: '01JD0000000000000000000000',
    name: 'render',
    cluster: '',
    status: 'running',
    startedAt: '2026-11-23T10:00:00.000Z',
    endedAt: null,
    paths: [],
    clients: [],
    labels: {},
    comments: [],
    notify: [],
    annotation: { state: 'off', comments: 0 },
    capacity: [],
    createdBy: 'ci',
    updatedAt: '2026-11-23T10:00:00.000Z',
    ...over,
  }
}

describe('small formatters', () => {
  it('formatTime: UTC to the second, - for none', () => {
    expect(formatTime('2026-11-23T10:00:00.123Z')).toBe('2026-11-23 10:00:00Z')
    expect(formatTime('2026-11-23T11:00:00+01:00')).toBe('2026-11-23 10:00:00Z')
    expect(formatTime(null)).toBe('-')
    expect(formatTime('garbage\x1b[2J')).toBe('garbage\\x1b[2J')
  })

  it('formatDuration: two units at most, the smaller one rounded to the nearest', () => {
    expect(formatDuration(0)).toBe('0s')
    expect(formatDuration(-5000)).toBe('0s')
    expect(formatDuration(11_960)).toBe('12s')
    expect(formatDuration(45_499)).toBe('45s')
    expect(formatDuration(59_600)).toBe('1m 00s')
    expect(formatDuration(12 * 60_000 + 5000)).toBe('12m 05s')
    expect(formatDuration(3599_600)).toBe('1h 00m')
    expect(formatDuration(3 * 3600_000 + 4 * 60_000 + 29_000)).toBe('3h 04m')
    expect(formatDuration(3 * 3600_000 + 4 * 60_000 + 59_000)).toBe('3h 05m')
    expect(formatDuration(86400_000 - 20_000)).toBe('1d 00h')
    expect(formatDuration(2 * 86400_000 + 3 * 3600_000 + 40 * 60_000)).toBe('2d 04h')
  })

  it('formatBytes: binary units, exact beyond 2^53, signed deltas', () => {
    expect(formatBytes('0')).toBe('0 B')
    expect(formatBytes('1023')).toBe('1023 B')
    expect(formatBytes('1536')).toBe('1.5 KiB')
    expect(formatBytes(String(5 * 2 ** 30))).toBe('5.0 GiB')
    expect(formatBytes('18446744073709551616')).toBe('16.0 EiB')
    expect(formatBytes(2048n, true)).toBe('+2.0 KiB')
    expect(formatBytes(-2048n, true)).toBe('-2.0 KiB')
    expect(formatBytes(0n, true)).toBe('0 B')
    expect(formatBytes('n/a')).toBe('n/a')
  })

  it('formatCount: thousands separators', () => {
    expect(formatCount('1234567')).toBe('1,234,567')
    expect(formatCount(12n, true)).toBe('+12')
    expect(formatCount(-1200n, true)).toBe('-1,200')
  })

  it('safe: control characters, escapes and bidi overrides are made visible', () => {
    expect(safe('a\x1b[31mred')).toBe('a\\x1b[31mred')
    expect(safe('a\tb')).toBe('a b')
    expect(safe('a\nb')).toBe('a\\x0ab')
    expect(safe('a\nb', true)).toBe('a\nb')
    expect(safe('x\u202ey')).toBe('x\\u{202e}y')
    expect(safe('\x9b2J')).toBe('\\x9b2J')
    expect(safe('Ünïcödé 渲染')).toBe('Ünïcödé 渲染')
  })

  it('table: aligned by code points, no trailing blanks', () => {
    expect(
      table([
        ['A', 'BB', 'C'],
        ['ééé', 'x', ''],
      ]),
    ).toBe('A    BB  C\nééé  x')
  })
})

describe('formatJob (show)', () => {
  it('a running job: key/value block, duration so far', () => {
    expect(formatJob(job(), NOW)).toBe(
      [
        'id          01JD0000000000000000000000',
        'name        render',
        'status      running',
        'started     2026-11-23 10:00:00Z',
        'ended       -',
        'duration    2h 00m (running)',
        'paths       -',
        'clients     -',
        'labels      -',
        'annotation  off',
        'created by  ci',
        '',
      ].join('\n'),
    )
  })

  it('a completed job with everything: one line per path/client/capacity, comments in time order', () => {
    const out = formatJob(
      job({
        status: 'failed',
        endedAt: '2026-11-23T10:12:05.000Z',
        paths: ['/render/shots', '/render/cache'],
        clients: ['10.0.0.1', '10.0.1.0/24'],
        labels: { show: 'abc', seq: '010' },
        notify: ['a@example.com'],
        annotation: { state: 'failing', id: 12, comments: 2, lastError: 'ECONNREFUSED' },
        capacity: [
          {
            path: '/render/shots',
            start: { at: '2026-11-23T10:00:00Z', usedBytes: '1073741824', files: '1000', directories: '10' },
            end: { at: '2026-11-23T10:12:05Z', usedBytes: '3221225472', files: '2500', directories: '12' },
          },
          {
            path: '/render/cache',
            start: { at: '2026-11-23T10:00:00Z', usedBytes: '0', files: '0', directories: '1' },
            error: 'Qumulo unreachable',
          },
        ],
        comments: [
          { at: '2026-11-23T10:05:00.000Z', author: 'worker', text: 'second' },
          { at: '2026-11-23T10:01:00.000Z', author: 'ci', text: 'first\nline two' },
          { at: '2026-11-23T10:05:00.000Z', author: 'worker', text: 'third (same time, kept in order)' },
        ],
      }),
      NOW,
    )
    expect(out).toBe(
      [
        'id          01JD0000000000000000000000',
        'name        render',
        'status      failed',
        'started     2026-11-23 10:00:00Z',
        'ended       2026-11-23 10:12:05Z',
        'duration    12m 05s',
        'paths       /render/shots',
        '            /render/cache',
        'clients     10.0.0.1',
        '            10.0.1.0/24',
        'labels      show=abc seq=010',
        'notify      a@example.com',
        'capacity    /render/shots  +2.0 GiB (1.0 GiB → 3.0 GiB)  +1,500 files  +2 dirs',
        '            /render/cache  0 B, 0 files, 1 dir at attachment  error: Qumulo unreachable',
        'annotation  failing #12, 2 comments (ECONNREFUSED)',
        'created by  ci',
        '',
        'comments (3)',
        '  2026-11-23 10:01:00Z  ci      first',
        '                                line two',
        '  2026-11-23 10:05:00Z  worker  second',
        '  2026-11-23 10:05:00Z  worker  third (same time, kept in order)',
        '',
      ].join('\n'),
    )
  })

  it('user text cannot inject terminal escapes', () => {
    const out = formatJob(
      job({ name: 'x\x1b]0;pwned\x07', comments: [{ at: '2026-11-23T10:00:00Z', author: 'a', text: '\x1b[2Jboom' }] }),
      NOW,
    )
    expect(out).not.toContain('\x1b')
    expect(out).toContain('x\\x1b]0;pwned\\x07')
  })

  it('formatComments: empty → no lines', () => {
    expect(formatComments([])).toEqual([])
  })
})

describe('formatJobTable (list)', () => {
  it('aligned columns, first path/client plus a count of the others', () => {
    const out = formatJobTable(
      [
        job({ id: 'j2', name: 'render', paths: ['/render/shots', '/render/cache', '/x'], clients: ['10.0.0.1'] }),
        job({ id: 'slurm-48213', name: 'a'.repeat(50), status: 'succeeded', endedAt: '2026-11-23T10:00:45Z' }),
      ],
      NOW,
    )
    expect(out).toBe(
      [
        'ID           NAME                                      STATUS     STARTED               DURATION  PATHS             CLIENTS',
        'j2           render                                    running    2026-11-23 10:00:00Z  2h 00m    /render/shots +2  10.0.0.1',
        `slurm-48213  ${'a'.repeat(39)}…  succeeded  2026-11-23 10:00:00Z  45s       -                 -`,
        '',
      ].join('\n'),
    )
  })
})
