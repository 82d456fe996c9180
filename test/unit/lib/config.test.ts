import { describe, expect, it } from 'vitest'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadConfig } from '../../../lib/config.ts'
import { ConfigError, redact } from '../../../lib/errors.ts'

describe('loadConfig', () => {
  it('applies the defaults of docs/interface.md §3', () => {
    const c = loadConfig({})
    expect(c.collector).toMatchObject({ pollSeconds: 60, pathDepth: 2, watchPaths: [] })
    expect(c.influx).toMatchObject({ bucket: 'qactivity', queryLanguage: 'influxql' })
  })

  it('derives the cluster tag from the QUMULO_URL host', () => {
    const c = loadConfig({ QUMULO_URL: 'https://qumulo.example:8000/', QUMULO_TOKEN: 'access-v1:x', INFLUX_URL: 'http://i:8086' }, [
      'qumulo',
      'influx',
    ])
    expect(c.qumulo.url).toBe('https://qumulo.example:8000')
    expect(c.qumulo.cluster).toBe('qumulo.example')
  })

  it('reports every problem at once, naming each variable', () => {
    try {
      loadConfig({ QACTIVITY_POLL_SECONDS: '0', QUMULO_URL: 'ftp://x', QACTIVITY_WATCH_PATHS: '/ok,rel/p' }, ['qumulo', 'influx'])
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      const msg = (err as ConfigError).message
      for (const name of ['QACTIVITY_POLL_SECONDS', 'QUMULO_URL', 'QUMULO_TOKEN', 'INFLUX_URL', 'QACTIVITY_WATCH_PATHS'])
        expect(msg).toContain(name)
      expect(msg.split('\n')).toHaveLength(1)
    }
  })

  it('normalises watched paths', () => {
    expect(loadConfig({ QACTIVITY_WATCH_PATHS: '/a/b/, /c//d,/a/b' }).collector.watchPaths).toEqual(['/a/b', '/c/d'])
  })
})

describe('redact', () => {
  it.each([
    ['smtp://user:secret@mail:587', 'smtp://***@mail:587'],
    ['Authorization: Bearer session-v1:abc==', 'Authorization: Bearer ***'],
    ['{"username":"a","password":"hunter2"}', '{"username":"a","password":"***"}'],
    ['token access-v1:abcd==', 'token access-v1:***'],
  ])('%s', (input, out) => expect(redact(input)).toBe(out))
})

describe('API configuration', () => {
  const need = ['api'] as const
  it('refuses to start the API without tokens unless authentication is explicitly off', () => {
    expect(() => loadConfig({}, [...need])).toThrow(/QACTIVITY_API_TOKENS is required \(or set QACTIVITY_AUTH=off/)
    expect(loadConfig({ QACTIVITY_AUTH: 'off' }, [...need]).api.auth).toBe(false)
  })

  it('parses name:token[:role], writer by default, and refuses short tokens and unknown roles without echoing them', () => {
    const c = loadConfig({ QACTIVITY_API_TOKENS: 'ci:0123456789abcdef, viewer:fedcba9876543210:reader' }, [...need])
    expect(c.api.tokens).toEqual([
      { name: 'ci', token: '0123456789abcdef', role: 'writer' },
      { name: 'viewer', token: 'fedcba9876543210', role: 'reader' },
    ])
    try {
      loadConfig({ QACTIVITY_API_TOKENS: 'a:short,b:0123456789abcdef:root' }, [...need])
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message).toContain('QACTIVITY_API_TOKENS')
      expect((err as Error).message).not.toContain('short')
      expect((err as Error).message).not.toContain('0123456789abcdef')
    }
  })

  it('an invalid QACTIVITY_API_TOKENS is reported as invalid, not also as missing', () => {
    const problems = (() => {
      try {
        loadConfig({ QACTIVITY_API_TOKENS: 'ci:short' }, [...need])
      } catch (err) {
        return (err as ConfigError).problems
      }
    })()
    expect(problems).toEqual([
      'QACTIVITY_API_TOKENS: entry "ci:…" must be name:token[:role] ' +
        'with a token of 16+ printable characters and role reader, writer or admin',
    ])
  })

  it('needs GRAFANA_TOKEN (or GRAFANA_TOKEN_FILE) with GRAFANA_URL', () => {
    expect(() => loadConfig({ GRAFANA_URL: 'http://grafana:3000' })).toThrow(/GRAFANA_TOKEN \(or GRAFANA_TOKEN_FILE\) is required/)
  })

  it('takes GRAFANA_TOKEN_FILE when GRAFANA_TOKEN is empty; the file may appear later', () => {
    const missing = join(tmpdir(), `qactivity-no-token-${process.pid}`, 'token')
    const c = loadConfig({ GRAFANA_URL: 'http://grafana:3000', GRAFANA_TOKEN: '', GRAFANA_TOKEN_FILE: missing })
    expect(c.grafana).toEqual({ url: 'http://grafana:3000', token: undefined, tokenFile: missing })
    // relative paths are resolved against the working directory
    expect(loadConfig({ GRAFANA_URL: 'http://g:3000', GRAFANA_TOKEN_FILE: 'secrets/token' }).grafana.tokenFile).toBe(
      resolve('secrets/token'),
    )
  })

  it('prefers GRAFANA_TOKEN over GRAFANA_TOKEN_FILE', () => {
    const c = loadConfig({ GRAFANA_URL: 'http://grafana:3000', GRAFANA_TOKEN: 'glsa_x', GRAFANA_TOKEN_FILE: '/nowhere/token' })
    expect(c.grafana).toEqual({ url: 'http://grafana:3000', token: 'glsa_x', tokenFile: undefined })
  })

  it('refuses a GRAFANA_TOKEN_FILE that is a directory, naming the variable', () => {
    expect(() => loadConfig({ GRAFANA_URL: 'http://grafana:3000', GRAFANA_TOKEN_FILE: tmpdir() })).toThrow(
      /GRAFANA_TOKEN_FILE: ".*" is a directory/,
    )
  })
})

describe('report configuration', () => {
  it('reads SMTP, addresses, schedule and threshold with defaults', () => {
    expect(loadConfig({}).report).toEqual({
      smtpUrl: undefined,
      from: 'qactivity@localhost',
      to: [],
      schedule: undefined,
      thresholdPct: 20,
      regressionRuns: 5,
      regressionAlert: false,
      usageSchedule: undefined,
      usageGroup: 'name',
    })
    const c = loadConfig({
      SMTP_URL: 'smtp://u:p%40ss@mail:587',
      QACTIVITY_REPORT_FROM: 'q@example.com',
      QACTIVITY_REPORT_TO: 'a@example.com, b@example.com,a@example.com',
      QACTIVITY_REPORT_SCHEDULE: '0 8 * * 1-5',
      QACTIVITY_REPORT_THRESHOLD_PCT: '10',
      QACTIVITY_REGRESSION_RUNS: '3',
      QACTIVITY_REGRESSION_ALERT: '1',
    })
    expect(c.report).toEqual({
      smtpUrl: 'smtp://u:p%40ss@mail:587',
      from: 'q@example.com',
      to: ['a@example.com', 'b@example.com'],
      schedule: '0 8 * * 1-5',
      thresholdPct: 10,
      regressionRuns: 3,
      regressionAlert: true,
      usageSchedule: undefined,
      usageGroup: 'name',
    })
  })

  it('names every bad report variable in one error', () => {
    const err = (() => {
      try {
        loadConfig({
          SMTP_URL: 'http://mail',
          QACTIVITY_REPORT_TO: 'x, ok@example.com, a@b',
          QACTIVITY_REPORT_FROM: 'me',
          QACTIVITY_REPORT_SCHEDULE: '61 * * * *',
          QACTIVITY_REPORT_THRESHOLD_PCT: '0',
        })
      } catch (e) {
        return e as ConfigError
      }
    })()!
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.message).toMatch(/SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL, got http:\/\/mail/)
    expect(err.message).toMatch(/QACTIVITY_REPORT_TO: "x" is not an e-mail address/)
    expect(err.message).toMatch(/QACTIVITY_REPORT_TO: "a@b" is not an e-mail address/)
    expect(err.message).toMatch(/QACTIVITY_REPORT_FROM: "me"/)
    expect(err.message).toMatch(/QACTIVITY_REPORT_SCHEDULE: "61 \* \* \* \*" is not a cron expression/)
    expect(err.message).toMatch(/QACTIVITY_REPORT_THRESHOLD_PCT must be an integer from 1/)
    // The password never appears in an error; an undecodable one is named, not a crash at start.
    const secret = (() => {
      try {
        loadConfig({ SMTP_URL: 'smtp+starttls://mailer:s3cr3t@mail:587' })
      } catch (e) {
        return (e as Error).message
      }
    })()!
    expect(secret).toMatch(/SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL, got smtp\+starttls:\/\/\*\*\*@mail:587/)
    expect(secret).not.toContain('s3cr3t')
    expect(() => loadConfig({ SMTP_URL: 'smtp://mailer:50%off@mail:587' })).toThrow(
      /SMTP_URL: the user or password of smtp:\/\/\*\*\*@mail:587 is not valid percent-encoding/,
    )
    expect(() => loadConfig({ QACTIVITY_REPORT_SCHEDULE: '0 8 * * *' })).toThrow(
      /QACTIVITY_REPORT_TO is required.*\n?.*SMTP_URL is required|SMTP_URL is required/,
    )
  })

  it('reads the Slurm settings and names each bad one', () => {
    const c = loadConfig({
      QACTIVITY_SLURM_PATHS: '/mnt/qumulo/=/, /home=/home',
      QACTIVITY_SLURM_ID_PREFIX: 'hpc2-',
      QACTIVITY_SLURM_CLIENT_TEMPLATE: '{node}-ib',
    })
    expect(c.slurm).toMatchObject({
      syncSeconds: 60,
      spoolDir: '/var/spool/qactivity-slurm',
      idPrefix: 'hpc2-',
      clientTemplate: '{node}-ib',
      mounts: [
        { mount: '/mnt/qumulo', path: '/' },
        { mount: '/home', path: '/home' },
      ],
    })
    let message = ''
    try {
      loadConfig({
        QACTIVITY_SLURM_PATHS: 'mnt=/',
        QACTIVITY_SLURM_ID_PREFIX: '-x',
        QACTIVITY_SLURM_CLIENT_TEMPLATE: 'ib',
        QACTIVITY_SLURM_SYNC_SECONDS: '1',
      })
    } catch (err) {
      message = (err as Error).message
    }
    for (const name of [
      'QACTIVITY_SLURM_PATHS',
      'QACTIVITY_SLURM_ID_PREFIX',
      'QACTIVITY_SLURM_CLIENT_TEMPLATE',
      'QACTIVITY_SLURM_SYNC_SECONDS',
    ])
      expect(message).toContain(name)
  })

  it('reads the retentions as InfluxQL durations and refuses what is not one', () => {
    expect(loadConfig({}).influx.retention).toEqual({ raw: '30d', jobs: 'INF' })
    expect(loadConfig({ QACTIVITY_RAW_RETENTION: '36H', QACTIVITY_JOB_RETENTION: 'forever' }).influx.retention).toEqual({
      raw: '36h',
      jobs: 'INF',
    })
    expect(() => loadConfig({ QACTIVITY_RAW_RETENTION: '30 days' })).toThrow(/QACTIVITY_RAW_RETENTION: "30 days" must be a duration/)
    expect(() => loadConfig({ QACTIVITY_JOB_RETENTION: '0h' })).toThrow(/QACTIVITY_JOB_RETENTION/)
  })

  it('reads the rollup period in seconds: a multiple of the poll interval, or off', () => {
    expect(loadConfig({}).collector.rollupSeconds).toBe(3600)
    expect(loadConfig({ QACTIVITY_ROLLUP_PERIOD: '15m' }).collector.rollupSeconds).toBe(900)
    expect(loadConfig({ QACTIVITY_ROLLUP_PERIOD: '1d' }).collector.rollupSeconds).toBe(86_400)
    expect(loadConfig({ QACTIVITY_ROLLUP_PERIOD: 'off' }).collector.rollupSeconds).toBe(0)
    expect(() => loadConfig({ QACTIVITY_ROLLUP_PERIOD: '90s' })).toThrow(/QACTIVITY_ROLLUP_PERIOD: "90s" must be a period such as 1h/)
    expect(() => loadConfig({ QACTIVITY_ROLLUP_PERIOD: '8d' })).toThrow(/1m to 7d/)
    expect(() => loadConfig({ QACTIVITY_POLL_SECONDS: '70' })).toThrow(
      /QACTIVITY_ROLLUP_PERIOD: 1h is not a multiple of QACTIVITY_POLL_SECONDS \(70\)/,
    )
  })

  it('keeps raw points longer than two rollup periods and a poll: the API reads raw from the last written period', () => {
    expect(() => loadConfig({ QACTIVITY_RAW_RETENTION: '2h' })).toThrow(
      /QACTIVITY_RAW_RETENTION \(2h\) must be at least two QACTIVITY_ROLLUP_PERIODs and a poll/,
    )
    expect(loadConfig({ QACTIVITY_RAW_RETENTION: '3h' }).influx.retention?.raw).toBe('3h')
    expect(loadConfig({ QACTIVITY_RAW_RETENTION: '1h', QACTIVITY_ROLLUP_PERIOD: 'off' }).collector.rollupSeconds).toBe(0)
  })

  it('keeps completed jobs in the store longer than the longest gap of the usage schedule', () => {
    const env = { SMTP_URL: 'smtp://mail:25', QACTIVITY_REPORT_TO: 'a@example.com' }
    expect(() => loadConfig({ ...env, QACTIVITY_USAGE_SCHEDULE: '0 7 1 * *' })).toThrow(
      /QACTIVITY_RETENTION_DAYS \(30\) must be at least 32 with QACTIVITY_USAGE_SCHEDULE "0 7 1 \* \*"/,
    )
    expect(loadConfig({ ...env, QACTIVITY_USAGE_SCHEDULE: '0 7 1 * *', QACTIVITY_RETENTION_DAYS: '32' }).report.usageSchedule).toBe(
      '0 7 1 * *',
    )
    expect(loadConfig({ ...env, QACTIVITY_USAGE_SCHEDULE: '0 7 * * 1' }).report.usageSchedule).toBe('0 7 * * 1') // weekly
  })
})
