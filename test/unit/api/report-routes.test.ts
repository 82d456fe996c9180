import { describe, expect, it } from 'vitest'
import { makeApp, TOKENS } from '../../support/api-app.ts'

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as { error: { code: string; message: string } } })

describe('report routes: bad input gets a clear error, never a 500', () => {
  it('without SMTP_URL e-mailing is 409 naming the variable; without InfluxDB the report is 503', async () => {
    const { call } = await makeApp()
    const id = ((await (await call('POST', '/api/v1/jobs', { name: 'r' })).json()) as { id: string }).id
    const off = await json(await call('POST', `/api/v1/jobs/${id}/report/email`, { to: ['a@example.com'] }))
    expect(off.status).toBe(409)
    expect(off.body.error.message).toMatch(/SMTP_URL/)
    const none = await json(await call('GET', `/api/v1/jobs/${id}/report`))
    expect(none.status).toBe(503)
  })

  it('validates addresses, format, job ids and roles', async () => {
    const { call } = await makeApp()
    const id = ((await (await call('POST', '/api/v1/jobs', { name: 'r' })).json()) as { id: string }).id
    const bad = await json(await call('POST', `/api/v1/jobs/${id}/report/email`, { to: ['not an address'] }))
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/to\.0.*e-mail/)
    expect((await json(await call('POST', `/api/v1/jobs/${id}/report/email`, { to: ['a@example.com'], cc: 'x' }))).status).toBe(400)
    expect(
      (await json(await call('POST', `/api/v1/jobs/${id}/report/email`, 'to=bad', { 'content-type': 'application/x-www-form-urlencoded' })))
        .status,
    ).toBe(400)
    expect((await json(await call('GET', `/api/v1/jobs/${id}/report?format=docx`))).status).toBe(400)
    expect((await json(await call('GET', `/api/v1/jobs/nope%27/report`))).status).toBe(400)
    // reports off is checked first
    expect((await json(await call('POST', `/api/v1/jobs/unknown/report/email`, { to: ['a@example.com'] }))).status).toBe(409)
    const reader = await json(await call('POST', `/api/v1/jobs/${id}/report/email`, {}, { authorization: `Bearer ${TOKENS[1].token}` }))
    expect(reader.status).toBe(403)
  })
})
