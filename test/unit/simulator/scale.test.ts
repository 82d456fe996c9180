import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACTIVITY_TYPES } from '../../../lib/schema.ts'
import { buildCluster } from '../../../simulator/cluster.ts'
import { SCALE, scaleScenario } from '../../../simulator/scenario.ts'
import { startSimulator, type RunningSimulator } from '../../../simulator/server.ts'
import { ACCESS_TOKEN, type WireEntry } from './helpers.ts'

const N = 100_000
let sim: RunningSimulator

beforeAll(async () => {
  sim = await startSimulator({ scenario: scaleScenario(N), accessTokens: [ACCESS_TOKEN] })
})
afterAll(() => sim.close())

const post = (ids: string[]) =>
  fetch(`${sim.url}/v1/files/resolve`, { method: 'POST', body: JSON.stringify(ids), headers: { authorization: `Bearer ${ACCESS_TOKEN}` } })

// Speed is measured by `npm run bench:collector` (its own process, no other load), not here: a
// wall-clock bound fails on a loaded machine.
async function poll(): Promise<{ entries: WireEntry[] }> {
  const res = await fetch(`${sim.url}/v1/analytics/activity/current`, { headers: { authorization: `Bearer ${ACCESS_TOKEN}` } })
  return (await res.json()) as { entries: WireEntry[] }
}

describe('scale mode', () => {
  it('yields exactly N entries on N distinct files from 200 clients, types round-robin', async () => {
    const { entries } = await poll()
    expect(entries).toHaveLength(N)
    expect(new Set(entries.map((e) => e.id)).size).toBe(N)
    expect(new Set(entries.map((e) => e.ip)).size).toBe(SCALE.clients)
    for (const type of ACTIVITY_TYPES) {
      expect(entries.filter((e) => e.type === type).length).toBeCloseTo(N / ACTIVITY_TYPES.length, -2)
    }
  })

  it('resolves 1000-id batches', async () => {
    const { entries } = await poll()
    for (let i = 0; i < 5; i++) {
      const ids = entries.slice(i * 1000, (i + 1) * 1000).map((e) => e.id)
      const paths = (await (await post(ids)).json()) as Array<{ id: string; path: string }>
      expect(paths.map((p) => p.id)).toEqual(ids)
      for (const { path } of paths) expect(path).toMatch(/^\/scale-\d\/dir-\d\/sub-\d\/f\d{4}\.bin$/)
    }
    expect(sim.resolveBatchSizes).toEqual([1000, 1000, 1000, 1000, 1000])
  })
})

describe('scaleScenario', () => {
  it('spreads the files over 1000 directories at depth 3', () => {
    const { tree } = buildCluster(scaleScenario(N))
    const leaves = [...tree.byPath.values()].filter((d) => d.path.split('/').length === 4)
    expect(leaves).toHaveLength(SCALE.directories)
    expect(leaves.reduce((sum, d) => sum + d.files.length, 0)).toBe(N)
  })

  it('gives exactly N entries for small N too', () => {
    for (const n of [1, 7, 5999, 6001]) {
      const s = scaleScenario(n)
      const total = s.workloads.reduce((sum, w) => sum + w.clients.length * w.files * Object.keys(w.ops).length, 0)
      expect(total).toBe(n)
    }
  })
})
