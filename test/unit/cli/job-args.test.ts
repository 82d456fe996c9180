import { describe, expect, it } from 'vitest'
import { UsageError } from '../../../lib/errors.ts'
import { parseJobArgs, parseLabelFilter, parseLabels, parseTime, planRequest, resolveJob, type Invocation } from '../../../cli/job.ts'

type Inv = Exclude<Invocation, { sub: 'help' }>
const parse = (...argv: string[]) => parseJobArgs(argv) as Inv
const usage = (fn: () => unknown, message: RegExp) => {
  expect(fn).toThrow(UsageError)
  expect(fn).toThrow(message)
}

describe('parseJobArgs', () => {
  it('start: every option into the create body, repeated options as lists, labels as an object', () => {
    const inv = parse(
      'start',
      '--name',
      'render',
      '--id',
      'slurm-42',
      '--path',
      '/render/shots',
      '--path',
      '/render/cache',
      '--client',
      '10.0.0.1',
      '--client',
      '10.0.1.0/24',
      '--label',
      'show=abc',
      '--label',
      'expr=a=b',
      '--comment',
      'first try',
      '--notify',
      'a@example.com',
      '--json',
    )
    expect(inv).toMatchObject({ sub: 'start', json: true })
    expect(inv.body).toEqual({
      name: 'render',
      id: 'slurm-42',
      paths: ['/render/shots', '/render/cache'],
      clients: ['10.0.0.1', '10.0.1.0/24'],
      labels: { show: 'abc', expr: 'a=b' },
      comment: 'first try',
      notify: ['a@example.com'],
    })
    expect(planRequest(inv, 'ignored')).toEqual({ method: 'POST', path: '/jobs', body: inv.body })
  })

  it('start: only the name when nothing else is given (no empty lists sent)', () => {
    expect(parse('start', '--name', 'r').body).toEqual({ name: 'r' })
    expect(parse('start', '--name=r').body).toEqual({ name: 'r' })
  })

  it('start: --name is required, unknown options and positionals are refused', () => {
    usage(() => parse('start'), /--name is required/)
    usage(() => parse('start', '--name', '  '), /--name is required/)
    usage(() => parse('start', '--name', 'r', '--bogus'), /job start: Unknown option '--bogus'/)
    usage(() => parse('start', '--name', 'r', 'extra'), /job start: Unexpected argument 'extra'/)
    usage(() => parse('start', '--name'), /argument missing/)
    usage(() => parse('start', '--name', 'r', '--job', 'x'), /Unknown option '--job'/)
    usage(() => parse('start', '--name', 'r', '--label', 'nokey'), /--label must be key=value/)
  })

  it('add-path / add-client / comment / complete / show bodies and routes', () => {
    const ap = parse('add-path', '/a', '/b', '--job', 'j1')
    expect(planRequest(ap, undefined)).toEqual({ method: 'POST', path: '/jobs/j1/paths', body: { paths: ['/a', '/b'] } })
    const ac = parse('add-client', '10.0.0.1', 'fd00::1')
    expect(planRequest(ac, 'env-job')).toEqual({
      method: 'POST',
      path: '/jobs/env-job/clients',
      body: { clients: ['10.0.0.1', 'fd00::1'] },
    })
    // no address: an empty body, the API uses the caller's address
    expect(planRequest(parse('add-client'), 'j')).toEqual({ method: 'POST', path: '/jobs/j/clients', body: {} })
    const cm = parse('comment', 'enabled', 'Maya', '64-bit', 'shaders')
    expect(planRequest(cm, 'j')).toEqual({ method: 'POST', path: '/jobs/j/comments', body: { text: 'enabled Maya 64-bit shaders' } })
    expect(parse('comment', '--', '--not-an-option').body).toEqual({ text: '--not-an-option' })
    expect(planRequest(parse('complete'), 'j')).toEqual({ method: 'POST', path: '/jobs/j/complete', body: { status: 'succeeded' } })
    expect(parse('complete', '--failed', '--at', '2026-11-23T10:00:00+01:00').body).toEqual({
      status: 'failed',
      at: '2026-11-23T10:00:00+01:00',
    })
    expect(planRequest(parse('show'), 'j')).toEqual({ method: 'GET', path: '/jobs/j' })
    expect(planRequest(parse('show', 'other'), 'j')).toEqual({ method: 'GET', path: '/jobs/other' })
    expect(planRequest(parse('show', '--job', 'x', '--json'), 'j').path).toBe('/jobs/x')
  })

  it('mutations refuse missing input', () => {
    usage(() => parse('add-path'), /at least one path/)
    usage(() => parse('comment'), /give the comment text/)
    usage(() => parse('comment', ' ', ''), /give the comment text/)
    usage(() => parse('complete', 'now'), /Unexpected argument/)
    usage(() => parse('complete', '--at', '2026-11-23T24:00'), /--at: "2026-11-23T24:00" is not a valid local time/)
    usage(() => parse('show', 'a', 'b'), /at most one job ID/)
    usage(() => parse('show', 'a', '--job', 'b'), /not both/)
  })

  it('stats: GET /jobs/{id}/stats; the ID from an argument, --job or QACTIVITY_JOB', () => {
    expect(planRequest(parse('stats'), 'env-job')).toEqual({ method: 'GET', path: '/jobs/env-job/stats' })
    expect(planRequest(parse('stats', 'j1', '--json'), 'env-job')).toEqual({ method: 'GET', path: '/jobs/j1/stats' })
    expect(parse('stats', '--json').json).toBe(true)
    expect(planRequest(parse('stats', '--job', 'slurm-1.0_a'), undefined).path).toBe('/jobs/slurm-1.0_a/stats')
    usage(() => parse('stats', 'a', 'b'), /job stats: at most one job ID/)
    usage(() => parse('stats', 'a', '--job', 'b'), /not both/)
    usage(() => planRequest(parse('stats'), undefined), /no job: pass --job ID or set QACTIVITY_JOB/)
    usage(() => planRequest(parse('stats', '../x'), undefined), /is not a job ID/)
    usage(() => parse('stats', '--since', 'x'), /Unknown option '--since'/)
  })

  it('compare: at least two IDs, --job is the first, one encoded jobs= parameter', () => {
    const inv = parse('compare', 'a', 'b.2', 'c_3-x')
    expect(inv.jobs).toEqual(['a', 'b.2', 'c_3-x'])
    const req = planRequest(inv, 'ignored-env-job')
    expect(req).toMatchObject({ method: 'GET', path: '/compare' })
    expect(req.query!.toString()).toBe('jobs=a%2Cb.2%2Cc_3-x')
    expect(req.query!.get('jobs')).toBe('a,b.2,c_3-x')
    expect(parse('compare', '--job', 'first', 'second', '--json')).toMatchObject({ json: true, jobs: ['first', 'second'], job: undefined })
    expect(parse('compare', 'x', '--job', 'first').jobs).toEqual(['first', 'x'])
  })

  it('compare: fewer than two IDs or a malformed one is a usage error', () => {
    usage(() => parse('compare'), /job compare: give at least two job IDs/)
    usage(() => parse('compare', 'a'), /at least two/)
    usage(() => parse('compare', '--job', 'a'), /at least two/)
    for (const bad of ['a,b', '../x', 'a b', '-x', '', 'x'.repeat(65), 'é', 'a&jobs=b']) {
      usage(() => parse('compare', 'ok', '--', bad), /job compare: ".*" is not a job ID/)
    }
  })

  it('list: filters into the query string', () => {
    const inv = parse(
      'list',
      '--status',
      'running',
      '--name',
      'render',
      '--label',
      'show:abc',
      '--label',
      'seq=010',
      '--since',
      '2026-11-23T00:00:00Z',
      '--until',
      '2026-11-24T00:00:00Z',
      '--limit',
      '20',
      '--all',
    )
    expect(inv.all).toBe(true)
    const req = planRequest(inv, undefined)
    expect(req.method).toBe('GET')
    expect(req.path).toBe('/jobs')
    expect(req.query!.toString()).toBe(
      'status=running&name=render&label=show%3Aabc&label=seq%3A010&since=2026-11-23T00%3A00%3A00Z&until=2026-11-24T00%3A00%3A00Z&limit=20',
    )
    expect(parse('list').query!.toString()).toBe('')
    expect(parse('list').all).toBe(false)
  })

  it('list: bad filters are usage errors', () => {
    usage(() => parse('list', '--status', 'done'), /--status must be one of running, succeeded, failed, cancelled/)
    usage(() => parse('list', '--limit', '0'), /--limit must be a positive integer/)
    usage(() => parse('list', '--limit', 'ten'), /--limit must be a positive integer/)
    usage(() => parse('list', '--label', 'novalue'), /--label must be key:value/)
    usage(() => parse('list', '--since', '2026-11-31'), /--since: "2026-11-31" is not a valid local time/)
    usage(() => parse('list', '--job', 'x'), /Unknown option '--job'/)
  })

  it('help and unknown subcommands', () => {
    expect(parseJobArgs(['--help'])).toEqual({ sub: 'help' })
    expect(parseJobArgs(['-h'])).toEqual({ sub: 'help' })
    expect(parseJobArgs(['start', '--help'])).toEqual({ sub: 'help', of: 'start' })
    expect(parseJobArgs(['list', '-h'])).toEqual({ sub: 'help', of: 'list' })
    usage(() => parseJobArgs([]), /missing subcommand: start, add-path/)
    usage(() => parseJobArgs(['reports']), /unknown job subcommand "reports"/)
    usage(() => parseJobArgs(['--json', 'show']), /unknown job subcommand "--json"/)
  })
})

describe('report', () => {
  it('downloads HTML by default, the PDF with --pdf, and e-mails with --email', () => {
    expect(planRequest(parseJobArgs(['report', 'j1']) as never, undefined)).toEqual({
      method: 'GET',
      path: '/jobs/j1/report',
      query: new URLSearchParams({ format: 'html' }),
    })
    expect(planRequest(parseJobArgs(['report', '--pdf', 'out.pdf']) as never, 'j2')).toEqual({
      method: 'GET',
      path: '/jobs/j2/report',
      query: new URLSearchParams({ format: 'pdf' }),
    })
    expect(planRequest(parseJobArgs(['report', '--email', 'a@x.org', '--email', 'b@x.org']) as never, 'j2')).toEqual({
      method: 'POST',
      path: '/jobs/j2/report/email',
      body: { to: ['a@x.org', 'b@x.org'] },
    })
    expect(planRequest(parseJobArgs(['report', '--email', '']) as never, 'j2')).toEqual({
      method: 'POST',
      path: '/jobs/j2/report/email',
      body: {},
    })
    usage(() => parseJobArgs(['report', '--pdf', 'x', '--email', 'a@x.org']), /--pdf and --email/)
    usage(() => parseJobArgs(['report', 'a', 'b']), /at most one job ID/)
  })
})

describe('resolveJob', () => {
  it('--job wins over QACTIVITY_JOB', () => {
    expect(resolveJob('a', 'b')).toBe('a')
    expect(resolveJob(undefined, 'b')).toBe('b')
  })

  it('no job at all is the documented usage error', () => {
    usage(() => resolveJob(undefined, undefined), /^no job: pass --job ID or set QACTIVITY_JOB$/)
    usage(() => resolveJob('', undefined), /no job/)
  })

  it('refuses IDs that are not IDs (they go into the URL path)', () => {
    for (const bad of ['..', '../x', 'a/b', '-x', 'a b', 'x'.repeat(65), 'é', '%2e']) {
      usage(() => resolveJob(bad, undefined), /--job ".*" is not a job ID/)
    }
    usage(() => resolveJob(undefined, 'a/b'), /QACTIVITY_JOB "a\/b" is not a job ID/)
    expect(resolveJob('slurm-48213.0_a', undefined)).toBe('slurm-48213.0_a')
  })
})

describe('option values', () => {
  it('parseTime: no zone = local time, a bare date = local midnight; anything else as typed, for the API to judge', () => {
    expect(parseTime('--at', '2026-11-23 10:00')).toBe(new Date(2026, 10, 23, 10, 0).toISOString())
    expect(parseTime('--at', '2026-11-23T10:00:00.5')).toBe(new Date(2026, 10, 23, 10, 0, 0, 500).toISOString())
    expect(parseTime('--at', '2026-11-23')).toBe(new Date(2026, 10, 23).toISOString())
    for (const typed of ['2026-11-23T10:00:00Z', '2026-11-23T10:00:00.5-02:00', '1795428000000', '', 'now', '1', '23/11/2026']) {
      expect(parseTime('--at', typed)).toBe(typed)
    }
    for (const bad of ['2026-13-01', '2026-02-31', '2026-11-23T25:00']) {
      usage(() => parseTime('--at', bad), /--at: ".*" is not a valid local time/)
    }
  })

  it('parseLabels: key=value, value may contain =, duplicates refused', () => {
    expect(parseLabels(['a=1', 'b=x=y'])).toEqual({ a: '1', b: 'x=y' })
    usage(() => parseLabels(['=v']), /key=value/)
    usage(() => parseLabels(['k=']), /key=value/)
    usage(() => parseLabels(['k=1', 'k=2']), /--label k given twice/)
  })

  it('parseLabelFilter: k:v or k=v, value may contain either', () => {
    expect(parseLabelFilter('show:abc')).toBe('show:abc')
    expect(parseLabelFilter('show=abc')).toBe('show:abc')
    expect(parseLabelFilter('url:http://x')).toBe('url:http://x')
    usage(() => parseLabelFilter(':v'), /key:value/)
    usage(() => parseLabelFilter('k:'), /key:value/)
  })
})

describe('usage (qactivity usage, qactivity job usage)', () => {
  it('asks GET /usage with the range, the group and the cluster; needs --since, knows its groups', () => {
    const inv = parse('usage', '--since', '2026-11-01T00:00:00Z', '--group', 'label:project', '--cluster', 'qa')
    const req = planRequest(inv, 'ignored')
    expect(req.method).toBe('GET')
    expect(req.path).toBe('/usage')
    expect(Object.fromEntries(req.query!)).toEqual({ since: '2026-11-01T00:00:00Z', group: 'label:project', cluster: 'qa' })
    expect(Object.fromEntries(planRequest(parse('usage', '--since', '2026-11-01T00:00:00Z'), undefined).query!)).toMatchObject({
      group: 'name',
    })
    usage(() => parse('usage'), /--since is required/)
    usage(() => parse('usage', '--since', '2026-11-01T00:00:00Z', '--group', 'user'), /--group must be name, cluster or label:KEY/)
  })
})
