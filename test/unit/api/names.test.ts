import { describe, expect, it } from 'vitest'
import { makeApp } from '../../support/api-app.ts'

describe('a job name ending in a backslash', () => {
  it('is kept exact in the store and the JSON; only the job_name tag gets the `_` line protocol needs', async () => {
    const lines: string[] = []
    const t = await makeApp({ deps: { writer: { write: async (l: string[]) => (lines.push(...l), { accepted: l.length, dropped: 0 }) } } })
    const created = await t.call('POST', '/api/v1/jobs', { name: 'render\\', id: 'b1' })
    expect(created.status).toBe(201)
    expect(((await created.json()) as { name: string }).name).toBe('render\\')
    expect(t.store.data.jobs.b1.name).toBe('render\\')
    const listed = (await (await t.call('GET', '/api/v1/jobs?name=render%5C')).json()) as { jobs: Array<{ id: string; name: string }> }
    expect(listed.jobs.map((j) => [j.id, j.name])).toEqual([['b1', 'render\\']])
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^qactivity_job,cluster=test,job_id=b1,job_name=render\\_ event="start",/)
  })
})
