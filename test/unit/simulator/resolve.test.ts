import { afterEach, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../../simulator/server.ts'
import { call, callJson, startTestSimulator, type WireEntry } from './helpers.ts'

const SCENARIO = {
  workloads: [
    { clients: ['10.0.1.1', '10.0.1.2'], path: '/render/shots', files: 2, ops: { 'file-iops-read': 60 } },
    { clients: ['10.0.2.1'], path: '/gen', files: 0, ops: { 'metadata-iops-read': 60 }, directoryIds: true },
    { clients: ['10.0.3.1'], path: '/scratch', files: 2, ops: { 'file-iops-write': 60 }, deleted: true },
  ],
}

let sim: RunningSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const resolve = (body: unknown) =>
  call(sim!, '/v1/files/resolve', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })

describe('POST /v1/files/resolve', () => {
  it('gives file paths, directories with a trailing slash and "" for deleted or unknown ids', async () => {
    sim = await startTestSimulator(SCENARIO)
    const { entries } = await callJson<{ entries: WireEntry[] }>(sim, '/v1/analytics/activity/current')
    const byIp = (ip: string) => entries.filter((e) => e.ip === ip).map((e) => e.id)
    const ids = [...byIp('10.0.1.1'), ...byIp('10.0.1.2'), ...byIp('10.0.2.1'), ...byIp('10.0.3.1'), '1']
    const res = await resolve(ids)
    expect(await res.json()).toEqual([
      { id: ids[0], path: '/render/shots/f0000.bin' },
      { id: ids[1], path: '/render/shots/f0001.bin' },
      { id: ids[2], path: '/render/shots/f0002.bin' },
      { id: ids[3], path: '/render/shots/f0003.bin' },
      { id: ids[4], path: '/gen/' },
      { id: ids[5], path: '' },
      { id: ids[6], path: '' },
      { id: '1', path: '' },
    ])
    expect(sim.resolveBatchSizes).toEqual([ids.length])
  })

  it('rejects a body that is not an array of strings with a 400 envelope', async () => {
    sim = await startTestSimulator(SCENARIO)
    for (const body of [{ ids: [] }, [1, 2], 'x']) {
      const res = await resolve(body)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error_class: 'decode_error', user_visible: true })
    }
    expect(sim.resolveBatchSizes).toEqual([])
  })
})
