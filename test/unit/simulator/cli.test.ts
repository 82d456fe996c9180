import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UsageError } from '../../../lib/errors.ts'
import { parseSimulateArgs, runSimulateCommand } from '../../../simulator/cli.ts'

describe('qactivity simulate flags', () => {
  it('uses the demo scenario on port 8000 by default', () => {
    const args = parseSimulateArgs([])
    if (args.help) throw new Error('unexpected help')
    expect(args.options).toMatchObject({ port: 8000, host: '127.0.0.1', https: false, faults: {} })
    expect(args.options.scenario.workloads.length).toBeGreaterThan(0)
  })

  it('parses faults, users, access tokens and scale', () => {
    const args = parseSimulateArgs([
      '--scale',
      '12',
      '--port',
      '0',
      '--latency-ms',
      '50',
      '--error-rate',
      '0.25',
      '--token-lifetime',
      '30',
      '--user',
      'svc:p:w',
      '--user',
      'ops:x',
      '--access-token',
      'access-v1:a',
    ])
    if (args.help) throw new Error('unexpected help')
    expect(args.options.faults).toEqual({ latencyMs: 50, errorRate: 0.25, tokenLifetimeSeconds: 30 })
    expect(args.options.users).toEqual({ svc: 'p:w', ops: 'x' })
    expect(args.options.accessTokens).toEqual(['access-v1:a'])
    expect(args.source).toBe('scale 12')
  })

  it.each([
    [['--port', 'eighty'], '--port must be a number'],
    [['--port', '70000'], '--port must be a number from 0 to 65535'],
    [['--error-rate', '2'], '--error-rate must be a number from 0 to 1'],
    [['--latency-ms', '1.5'], '--latency-ms must be an integer'],
    [['--user', 'nopassword'], '--user must be NAME:PASSWORD'],
    [['--scale', '5', '--scenario', 'x.json'], 'exclude each other'],
    [['--scenario', '/nonexistent.json'], 'Cannot read scenario'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--ca-out', 'ca.pem'], '--ca-out needs --https'],
  ])('refuses %j with a UsageError', (argv, message) => {
    expect(() => parseSimulateArgs(argv)).toThrow(UsageError)
    expect(() => parseSimulateArgs(argv)).toThrow(message)
  })

  it('runs until aborted and writes the certificate for --ca-out', async () => {
    const caOut = join(mkdtempSync(join(tmpdir(), 'qact-sim-')), 'ca.pem')
    const stop = new AbortController()
    const running = runSimulateCommand(
      ['--scale', '10', '--port', '0', '--https', '--ca-out', caOut],
      { QACTIVITY_LOG_LEVEL: 'error' },
      stop.signal,
    )
    await expect
      .poll(() => {
        try {
          return readFileSync(caOut, 'utf8')
        } catch {
          return ''
        }
      })
      .toContain('BEGIN CERTIFICATE')
    stop.abort()
    expect(await running).toBe(0)
  })
})
