import { describe, expect, it } from 'vitest'
import { makeApp } from '../../support/api-app.ts'
import { slurmStatus } from '../../../api/routes/slurm.ts'

const report = {
  slurmCluster: 'hpc',
  periodSeconds: 60,
  lastSync: '2026-12-01T10:00:00.000Z',
  reconciled: 12,
  pendingEvents: 0,
  failing: false,
}

describe('POST /api/v1/slurm/status → /healthz slurm', () => {
  it('keeps the last report per Slurm cluster; a sync quiet for three periods is stale', async () => {
    let t = Date.parse('2026-12-01T10:00:00Z')
    const status = slurmStatus(() => t)
    const { call } = await makeApp({ app: () => ({ slurm: status }) })
    expect(status.health()).toBeUndefined()
    expect((await call('POST', '/api/v1/slurm/status', report)).status).toBe(204)
    expect(status.health()).toEqual({ ok: true, clusters: { hpc: { ...report, reportedAt: new Date(t).toISOString(), stale: false } } })
    const failing = { ...report, failing: true, lastError: 'job 8: no hook noted it', lastErrorAt: '2026-12-01T10:00:00.000Z' }
    await call('POST', '/api/v1/slurm/status', failing)
    expect(status.health()).toMatchObject({ ok: false, clusters: { hpc: { failing: true, lastError: 'job 8: no hook noted it' } } })
    await call('POST', '/api/v1/slurm/status', report)
    t += 181_000
    expect(status.health()).toMatchObject({ ok: false, clusters: { hpc: { stale: true } } })
  })

  it('refuses a malformed report naming the field, and a reader token', async () => {
    const { call } = await makeApp({ app: () => ({ slurm: slurmStatus() }) })
    const bad = await call('POST', '/api/v1/slurm/status', { ...report, reconciled: -1 })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toMatch(/reconciled/)
    const multiline = await call('POST', '/api/v1/slurm/status', { ...report, lastError: 'a\nb' })
    expect(multiline.status).toBe(400)
    const reader = await call('POST', '/api/v1/slurm/status', report, { authorization: 'Bearer reader-token-0123456789' })
    expect(reader.status).toBe(403)
  })
})
