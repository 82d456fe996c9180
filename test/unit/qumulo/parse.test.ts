import { describe, expect, it } from 'vitest'
import { InvalidResponseError, QumuloApiError } from '../../../qumulo/errors.ts'
import {
  parseActivity,
  parseAggregates,
  parseErrorEnvelope,
  parseFileSystem,
  parseLogin,
  parseResolve,
  parseVersion,
} from '../../../qumulo/types.ts'

// Shapes copied from docs/qumulo/api.md (REC78 recordings and the DERIVED aggregates example).
const REC78_ENTRIES = [
  { id: '131072291465916581236989467785', ip: '10.102.0.74', rate: 136.53333333333333, type: 'file-throughput-read' },
  { id: '131072291465916581236989576284', ip: '10.102.0.74', rate: 13926.4, type: 'file-throughput-read' },
]
const FILE_SYSTEM = {
  block_size_bytes: 4096,
  free_size_bytes: '9396135350272',
  snapshot_size_bytes: '7755127889920',
  total_size_bytes: '665408545751040',
}
const ROOT_AGGREGATES = {
  files: [
    {
      capacity_usage: '344693045268480',
      data_usage: '341405173407744',
      id: '131072291465916581209155043350',
      meta_usage: '3287871860736',
      name: 'build',
      named_stream_data_usage: '0',
      num_directories: '102043170',
      num_files: '677005255',
      num_named_streams: '0',
      num_other_objects: '34804',
      num_symlinks: '7053923',
      type: 'FS_FILE_TYPE_DIRECTORY',
    },
  ],
  id: '131072291465916581209155043330',
  path: '/',
  total_capacity: '648210218291200',
  total_data: '643276311531520',
  total_directories: '117130609',
  total_files: '1038855802',
  total_meta: '4933906759680',
  total_named_stream_data: '97374208',
  total_named_streams: '23809',
  total_other_objects: '35258',
  total_symlinks: '25206064',
}

describe('parseActivity', () => {
  it('keeps recorded entries exactly', () => {
    expect(parseActivity({ entries: REC78_ENTRIES })).toEqual({ entries: REC78_ENTRIES, rejected: 0 })
    expect(parseActivity({ entries: [] })).toEqual({ entries: [], rejected: 0 })
  })

  it.each([
    ['an unknown type', { type: 'file-iops-total' }, 'entries[0]: type'],
    ['a numeric id', { id: 131072291465916581236989467785 }, 'entries[0]: id'],
    ['a non-decimal id', { id: 'abc' }, 'entries[0]: id: expected a decimal id string'],
    ['a missing rate', { rate: undefined }, 'entries[0]: rate'],
    ['a negative rate', { rate: -1 }, 'entries[0]: rate'],
    ['a rate whose count of 60 s is beyond 2^53', { rate: 2 ** 53 / 60 + 1e3 }, 'entries[0]: rate'],
    ['a string rate', { rate: '1.5' }, 'entries[0]: rate'],
    ['a host name as ip', { ip: 'render01' }, 'entries[0]: ip: expected an IP address'],
  ])('drops and counts an entry with %s', (_, patch, problem) => {
    const parsed = parseActivity({ entries: [{ ...REC78_ENTRIES[0], ...patch }, REC78_ENTRIES[1]] })
    expect(parsed.entries).toEqual([REC78_ENTRIES[1]])
    expect(parsed.rejected).toBe(1)
    expect(parsed.firstProblem).toContain(problem)
  })

  it('accepts IPv6 client addresses', () => {
    for (const ip of ['fd00::1', '[fd00::1]', 'fe80::1%eth0'])
      expect(parseActivity({ entries: [{ ...REC78_ENTRIES[0], ip }] }).rejected).toBe(0)
  })

  it('drops entries of another type than the one asked for', () => {
    expect(parseActivity({ entries: REC78_ENTRIES }, 'file-iops-read')).toMatchObject({ entries: [], rejected: 2 })
  })

  it.each([
    [[], '(body): Invalid input: expected object'],
    [{}, 'entries: Invalid input: expected array'],
    [{ entries: 'none' }, 'entries: Invalid input: expected array'],
    [null, '(body)'],
  ])('throws a clear error for the malformed body %j', (json, message) => {
    expect(() => parseActivity(json)).toThrow(InvalidResponseError)
    expect(() => parseActivity(json)).toThrow(message)
  })
})

describe('parseResolve', () => {
  it('maps ids to paths as served, whatever the order, ignoring malformed and unrequested items', () => {
    const json = [
      { id: '2', path: '/home/' },
      { id: '1', path: '/build/abc/file.bin' },
      { id: '3', path: '' },
      { id: '4', path: null },
      { id: '99', path: '/not/asked' },
    ]
    const { paths, rejected } = parseResolve(json, new Set(['1', '2', '3', '4']))
    expect(paths).toEqual(
      new Map([
        ['2', '/home/'],
        ['1', '/build/abc/file.bin'],
        ['3', ''],
      ]),
    )
    expect(rejected).toBe(2)
  })

  it('throws for a body that is not an array', () => {
    expect(() => parseResolve({ paths: [] }, new Set())).toThrow('(body): Invalid input: expected array')
  })
})

describe('parseFileSystem', () => {
  it('reads the recorded response with BigInt byte counts', () => {
    expect(parseFileSystem(FILE_SYSTEM)).toEqual({
      blockSizeBytes: 4096,
      totalBytes: 665408545751040n,
      freeBytes: 9396135350272n,
      snapshotBytes: 7755127889920n,
    })
  })

  it('accepts JSON numbers for byte counts', () => {
    expect(parseFileSystem({ ...FILE_SYSTEM, total_size_bytes: 665408545751040 }).totalBytes).toBe(665408545751040n)
  })

  it.each([
    [{ ...FILE_SYSTEM, free_size_bytes: '12.5' }, 'free_size_bytes'],
    [{ ...FILE_SYSTEM, total_size_bytes: -1 }, 'total_size_bytes'],
    [{ ...FILE_SYSTEM, snapshot_size_bytes: undefined }, 'snapshot_size_bytes'],
    [{ ...FILE_SYSTEM, block_size_bytes: 0 }, 'block_size_bytes'],
  ])('names the bad field of %j', (json, field) => {
    expect(() => parseFileSystem(json)).toThrow(new RegExp(`^${field}: `))
  })
})

describe('parseAggregates', () => {
  it('reads the root example, stripping nothing from /', () => {
    expect(parseAggregates(ROOT_AGGREGATES)).toEqual({
      path: '/',
      id: '131072291465916581209155043330',
      totalCapacity: 648210218291200n,
      totalData: 643276311531520n,
      totalMeta: 4933906759680n,
      totalFiles: 1038855802n,
      totalDirectories: 117130609n,
    })
  })

  it('strips the trailing slash of a directory and keeps values above 2^53 exact', () => {
    const parsed = parseAggregates({ ...ROOT_AGGREGATES, path: '/home/', total_capacity: '18446744073709551617' })
    expect(parsed).toMatchObject({ path: '/home', totalCapacity: 18446744073709551617n })
  })

  it('refuses the hand-made qontrol fixture shape', () => {
    expect(() => parseAggregates({ path: '/', id: '2', total_capacity_usage: '0', total_data_usage: '0' })).toThrow('total_capacity')
  })
})

describe('small responses', () => {
  it('reads version and login', () => {
    expect(
      parseVersion({ build_date: '2026-02-07T02:28:15Z', build_id: '341775.1.14', flavor: 'release', revision_id: 'Qumulo Core 7.8.0' }),
    ).toEqual({ revisionId: 'Qumulo Core 7.8.0' })
    expect(parseLogin({ bearer_token: '1:EXAMPLElSnp6MVZv' })).toBe('1:EXAMPLElSnp6MVZv')
    expect(() => parseLogin({ bearer_token: '' })).toThrow('bearer_token')
  })
})

describe('parseErrorEnvelope', () => {
  it.each([
    ['', undefined],
    ['   ', undefined],
    ['<html>Bad gateway</html>', undefined],
    ['{"message": "nope"}', undefined],
    ['[1]', undefined],
    [
      '{"module":"qumulo.fs","error_class":"fs_no_such_entry_error",' +
        '"description":"user_export { ino=2 }","stack":["a","b"],"user_visible":true}',
      { module: 'qumulo.fs', errorClass: 'fs_no_such_entry_error', description: 'user_export { ino=2 }' },
    ],
    ['{"error_class":"x","description":"d","stack":"frame1\\nframe2"}', { errorClass: 'x', description: 'd' }],
    [
      '{"error_class":"outer","description":"o","inner":{"error_class":"inner_error","description":"i"}}',
      { errorClass: 'outer', description: 'o', inner: { errorClass: 'inner_error', description: 'i' } },
    ],
  ])('parses %j', (body, expected) => {
    const parsed = parseErrorEnvelope(body)
    if (expected === undefined) expect(parsed).toBeUndefined()
    else expect(parsed).toMatchObject(expected)
  })
})

describe('QumuloApiError', () => {
  const base = { method: 'GET', url: '/v1/file-system' }
  it.each([
    [
      { status: 503, envelope: { errorClass: 'fs_internal_error', description: 'description' } },
      '[GET] /v1/file-system: 503 Service Unavailable (fs_internal_error: description)',
      true,
    ],
    [{ status: 401 }, '[GET] /v1/file-system: 401 Unauthorized', false],
    [{ status: 404, statusText: 'Gone Fishing' }, '[GET] /v1/file-system: 404 Gone Fishing', false],
    [
      { status: 500, detail: 'body: <html>\n  <b>oops</b>\n</html>' },
      '[GET] /v1/file-system: 500 Internal Server Error (body: <html> <b>oops</b> </html>)',
      true,
    ],
    [
      { status: 400, envelope: { errorClass: 'a', description: 'x', inner: { errorClass: 'b', description: 'y' } } },
      '[GET] /v1/file-system: 400 Bad Request (a: x <- b: y)',
      false,
    ],
    [{ detail: 'timed out after 100 ms' }, '[GET] /v1/file-system: timed out after 100 ms', true],
    [
      { status: 500, detail: 'body: Bearer session-v1:abcdef password="hunter2"' },
      '[GET] /v1/file-system: 500 Internal Server Error (body: Bearer *** password="***")',
      true,
    ],
  ])('formats %j', (init, message, retriable) => {
    const err = new QumuloApiError({ ...base, ...init })
    expect(err.message).toBe(message)
    expect(err.retriable).toBe(retriable)
    expect(err.name).toBe('QumuloApiError')
  })

  it('cuts a long description to one short line', () => {
    const err = new QumuloApiError({ ...base, status: 500, envelope: { errorClass: 'x', description: 'y'.repeat(1000) } })
    expect(err.message.length).toBeLessThan(300)
    expect(err.description).toHaveLength(1000)
  })
})
