import { afterEach, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../../simulator/server.ts'
import { call, callJson, manualClock, startTestSimulator, type WireEntry } from './helpers.ts'

const RENDER = {
  name: 'render',
  clients: ['10.0.1.1', '10.0.1.2'],
  path: '/render/shots',
  files: 4,
  ops: { 'file-iops-read': 120, 'file-throughput-write': 30 },
}
const LATE = { clients: ['10.0.2.1'], path: '/gen/run', files: 3, ops: { 'metadata-iops-read': 7 }, startSeconds: 60, endSeconds: 120 }
const DIR_META = { clients: ['10.0.3.1', 'fd00::3:2'], path: '/meta', files: 0, ops: { 'metadata-iops-write': 5 }, directoryIds: true }

let sim: RunningSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

async function entries(path = '/v1/analytics/activity/current'): Promise<WireEntry[]> {
  return (await callJson<{ entries: WireEntry[] }>(sim!, path)).entries
}

const triple = (e: WireEntry) => `${e.id}|${e.ip}|${e.type}`

describe('GET /v1/analytics/activity/current', () => {
  it('reports k/60 ops/s and 4096·k/60 bytes/s for every (client, file) pair', async () => {
    sim = await startTestSimulator({ workloads: [RENDER] })
    const all = await entries()
    expect(all).toHaveLength(2 * 4 * 2)
    for (const e of all) {
      const perMinute = e.type === 'file-iops-read' ? 120 : 4096 * 30
      expect(e.rate).toBe(perMinute / 60)
      expect(Math.abs(e.rate * 60 - perMinute)).toBeLessThan(1e-6)
    }
    const ids = new Set(all.map((e) => e.id))
    expect(ids.size).toBe(2 * 4)
    expect(new Set(all.map((e) => e.ip))).toEqual(new Set(RENDER.clients))
  })

  it('keeps throughput rates at whole 4 KiB blocks per minute', async () => {
    sim = await startTestSimulator({ workloads: [{ ...RENDER, ops: { 'file-throughput-read': 1 } }] })
    for (const e of await entries()) {
      expect(e.rate).toBeCloseTo(68.26666666666667, 12)
      expect(Math.round(e.rate * 60) % 4096).toBe(0)
    }
  })

  it('filters with ?type= and rejects an unknown type with a 400 envelope', async () => {
    sim = await startTestSimulator({ workloads: [RENDER, DIR_META] })
    const writes = await entries('/v1/analytics/activity/current?type=file-throughput-write')
    expect(writes).toHaveLength(8)
    expect(writes.every((e) => e.type === 'file-throughput-write')).toBe(true)
    const res = await call(sim, '/v1/analytics/activity/current?type=file-iops')
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      error_class: expect.any(String),
      description: expect.stringContaining('file-iops'),
      stack: [],
      user_visible: true,
    })
  })

  it('never repeats an (id, ip, type) triple and merges workloads that share one', async () => {
    const twice = { ...DIR_META, ops: { 'metadata-iops-write': 3 } }
    sim = await startTestSimulator({ workloads: [RENDER, DIR_META, twice] })
    const all = await entries()
    expect(new Set(all.map(triple)).size).toBe(all.length)
    const dirEntries = all.filter((e) => e.type === 'metadata-iops-write')
    expect(dirEntries).toHaveLength(2)
    expect(dirEntries.map((e) => e.rate)).toEqual([8 / 60, 8 / 60])
    expect(new Set(dirEntries.map((e) => e.id)).size).toBe(1)
  })

  it('uses ~30-digit string ids that share the cluster prefix', async () => {
    sim = await startTestSimulator({ clusterIdPrefix: '123456789012345678', workloads: [RENDER] })
    for (const e of await entries()) {
      expect(typeof e.id).toBe('string')
      expect(e.id).toMatch(/^123456789012345678\d{12}$/)
    }
  })

  it('starts and stops workloads at startSeconds and endSeconds', async () => {
    const clock = manualClock()
    sim = await startTestSimulator({ workloads: [RENDER, LATE] }, { clock: clock.now })
    const late = async () => (await entries()).filter((e) => e.ip === '10.0.2.1').length
    expect(await late()).toBe(0)
    clock.advanceSeconds(60)
    expect(await late()).toBe(3)
    clock.advanceSeconds(59.999)
    expect(await late()).toBe(3)
    clock.advanceSeconds(0.001)
    expect(await late()).toBe(0)
  })

  it('answers {"entries": []} when idle', async () => {
    sim = await startTestSimulator({ workloads: [{ ...RENDER, startSeconds: 3600 }] })
    const res = await call(sim, '/v1/analytics/activity/current')
    expect(await res.text()).toBe('{"entries":[]}')
  })

  it('counts requests per route', async () => {
    sim = await startTestSimulator({ workloads: [RENDER] })
    await entries()
    await entries('/v1/analytics/activity/current?type=file-iops-read')
    expect(sim.requests['GET /v1/analytics/activity/current']).toBe(2)
  })
})
