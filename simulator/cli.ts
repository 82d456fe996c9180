import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { UsageError, messageOf } from '../lib/errors.ts'
import { createLogger, type LogLevel } from '../lib/log.ts'
import { loadScenario, scaleScenario, ScenarioError, type Scenario } from './scenario.ts'
import { startSimulator, type SimulatorOptions } from './server.ts'
import { SIMULATE_FLAGS, SIMULATE_USAGE } from './flags.ts'

export const DEFAULT_SCENARIO_FILE = fileURLToPath(new URL('./scenarios/demo.json', import.meta.url))

/** Parsed `simulate` flags, or a request for help. */
export type SimulateArgs =
  | { help: true }
  | {
      help: false
      options: SimulatorOptions
      /** Where the certificate goes with `--https`. */
      caOut?: string
      /** Human description of the scenario, for the startup line. */
      source: string
    }

/** Parses and checks the flags; every mistake is a {@link UsageError}. */
export function parseSimulateArgs(argv: string[]): SimulateArgs {
  const { values: v } = parseFlags(argv)
  if (v.help) return { help: true }
  if (v.scenario !== undefined && v.scale !== undefined) throw new UsageError('--scenario and --scale exclude each other')
  if (v['ca-out'] !== undefined && !v.https) throw new UsageError('--ca-out needs --https')
  const scale = v.scale === undefined ? undefined : intFlag('--scale', v.scale, 1, 10_000_000)
  const faults: SimulatorOptions['faults'] = {}
  if (v['latency-ms'] !== undefined) faults.latencyMs = intFlag('--latency-ms', v['latency-ms'], 0, 600_000)
  if (v['error-rate'] !== undefined) faults.errorRate = numberFlag('--error-rate', v['error-rate'], 0, 1)
  if (v['token-lifetime'] !== undefined) faults.tokenLifetimeSeconds = intFlag('--token-lifetime', v['token-lifetime'], 1, 10 * 365 * 86400)
  const file = v.scenario ?? DEFAULT_SCENARIO_FILE
  return {
    options: {
      scenario: readScenario(file, scale),
      port: intFlag('--port', v.port, 0, 65535),
      host: v.host,
      https: v.https,
      users: v.user ? parseUsers(v.user) : undefined,
      accessTokens: v['access-token'],
      faults,
    },
    caOut: v['ca-out'],
    source: scale === undefined ? file : `scale ${scale}`,
    help: false,
  }
}

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: SIMULATE_FLAGS, allowPositionals: false, strict: true })
  } catch (err) {
    throw new UsageError(`${messageOf(err)}\n${SIMULATE_USAGE}`)
  }
}

function readScenario(file: string, scale: number | undefined): Scenario {
  if (scale !== undefined) return scaleScenario(scale)
  try {
    return loadScenario(file)
  } catch (err) {
    if (err instanceof ScenarioError) throw new UsageError(err.message)
    throw err
  }
}

function numberFlag(flag: string, raw: string, min: number, max: number): number {
  const n = raw.trim() === '' ? NaN : Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} must be a number from ${min} to ${max}, got "${raw}"`)
  return n
}

function intFlag(flag: string, raw: string, min: number, max: number): number {
  const n = numberFlag(flag, raw, min, max)
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be an integer, got "${raw}"`)
  return n
}

function parseUsers(specs: string[]): Record<string, string> {
  const users: Record<string, string> = {}
  for (const spec of specs) {
    const colon = spec.indexOf(':')
    if (colon < 1 || colon === spec.length - 1) throw new UsageError('--user must be NAME:PASSWORD')
    users[spec.slice(0, colon)] = spec.slice(colon + 1)
  }
  return users
}

/**
 * `qactivity simulate`: serves the simulator until SIGINT/SIGTERM (or `signal` aborts), logging the URL
 * on stderr. Resolves to the exit code.
 */
export async function runSimulateCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  signal?: AbortSignal,
): Promise<number> {
  const args = parseSimulateArgs(argv)
  if (args.help) {
    process.stdout.write(SIMULATE_USAGE)
    return 0
  }
  const log = createLogger(logLevelOf(env))
  const sim = await startSimulator(args.options)
  if (args.caOut && sim.caPem) writeFileSync(args.caOut, sim.caPem)
  log.info('Qumulo simulator listening', {
    url: sim.url,
    scenario: args.source,
    users: Object.keys(args.options.users ?? { admin: '' }).join(','),
    ca_file: args.caOut,
  })
  await waitForStop(signal)
  await sim.close()
  log.info('Qumulo simulator stopped')
  return 0
}

function logLevelOf(env: Record<string, string | undefined>): LogLevel {
  const level = env.QACTIVITY_LOG_LEVEL
  return level === 'debug' || level === 'warn' || level === 'error' ? level : 'info'
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      signal?.removeEventListener('abort', stop)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    if (signal?.aborted) stop()
    else signal?.addEventListener('abort', stop, { once: true })
  })
}
