import type { QumuloConfig } from '../../../lib/config.ts'
import { parseScenario, type Scenario } from '../../../simulator/scenario.ts'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../../simulator/server.ts'

export const ACCESS_TOKEN = 'access-v1:unit-test-token'

/** A clock the test moves by hand (milliseconds). */
export function manualClock(start = 1_700_000_000_000) {
  let now = start
  return {
    now: () => now,
    advanceSeconds: (s: number) => {
      now += s * 1000
    },
  }
}

/** A simulator on 127.0.0.1, random port, accepting {@link ACCESS_TOKEN}. */
export function startTestSimulator(scenario: unknown, options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const parsed: Scenario = parseScenario(scenario)
  return startSimulator({ scenario: parsed, port: 0, accessTokens: [ACCESS_TOKEN], ...options })
}

/** A request to the simulator with the access token. */
export function call(sim: RunningSimulator, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = { authorization: `Bearer ${ACCESS_TOKEN}`, ...(init.headers as Record<string, string> | undefined) }
  return fetch(sim.url + path, { ...init, headers })
}

export async function callJson<T = any>(sim: RunningSimulator, path: string, init: RequestInit = {}): Promise<T> {
  const res = await call(sim, path, init)
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

export function qumuloConfig(url: string, over: Partial<QumuloConfig> = {}): QumuloConfig {
  return { url, insecureTls: false, cluster: 'sim', timeoutMs: 5000, ...over }
}

export interface WireEntry {
  id: string
  ip: string
  rate: number
  type: string
}
