import { describe, expect, it } from 'vitest'
import { makeApp } from '../../support/api-app.ts'

const J = '/api/v1/jobs'
const form = { 'content-type': 'application/x-www-form-urlencoded' }
const T0 = Date.parse('2026-11-23T10:00:00Z')
const FORMS = /ISO 8601 time with a zone .* or epoch milliseconds/

type Err = { error: { code: string; message: string } }

/** An app whose clock stands still at T0, with one running job started at T0. */
async function fixture() {
  const t = await makeApp({ deps: { now: () => T0 } })
  expect((await t.call('POST', J, { name: 'render', id: 'r1' })).status).toBe(201)
  return t
}

describe('times: ISO 8601 with a zone or epoch milliseconds, nothing coerced', () => {
  const refused: Array<[why: string, value: unknown, message: RegExp]> = [
    ['null', null, FORMS],
    ['an empty string', '', FORMS],
    ['true', true, FORMS],
    ['an empty array', [], FORMS],
    ['hex digits', '0x10', FORMS],
    ['an exponent', '1e3', FORMS],
    ['epoch seconds as a number', 1795428000, /epoch seconds\?/],
    ['epoch seconds as digits', '1795428000', /epoch seconds\?/],
    ['a fraction of a millisecond', 1795428000000.5, FORMS],
    ['a negative number', -1, FORMS],
    ['an ISO time without a zone', '2026-11-23T10:00:00', /has no zone: add Z/],
    ['an ISO date alone', '2026-11-23', /has no zone/],
    ['a day the month does not have', '2026-02-31T10:00:00Z', FORMS],
    ['hour 24', '2026-11-23T24:00:00Z', FORMS],
    ['an English word', 'yesterday', FORMS],
  ]

  it.each(refused)('complete with at = %s → 400 naming at and the accepted forms, nothing stored', async (_why, at, message) => {
    const t = await fixture()
    const before = JSON.stringify(t.store.data)
    const res = await t.call('POST', `${J}/r1/complete`, { at })
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as Err
    expect(error.message).toMatch(/^at: /)
    expect(error.message).toMatch(message)
    expect(error.message).not.toMatch(/before the job started/)
    expect(JSON.stringify(t.store.data)).toBe(before)
  })

  it.each([
    ['since', ''],
    ['since', '1e3'],
    ['until', '0x10'],
    ['until', '1795428000'],
    ['since', 'true'],
    ['until', '2026-11-23T10:00:00'],
  ])('list with %s=%j → 400 naming the parameter', async (key, value) => {
    const t = await fixture()
    const res = await t.call('GET', `${J}?${key}=${encodeURIComponent(value)}`)
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as Err
    expect(error.message).toMatch(new RegExp(`^${key}: `))
    expect(error.message).toMatch(/epoch milliseconds|no zone/)
  })

  it('an empty at in a form body is refused, not read as "now"', async () => {
    const t = await fixture()
    const res = await t.call('POST', `${J}/r1/complete`, 'at=', form)
    expect(res.status).toBe(400)
    expect(((await res.json()) as Err).error.message).toMatch(/^at: "" is not/)
    expect(t.store.data.jobs.r1.status).toBe('running')
  })

  it('accepts an offset, a JSON integer and a digit string (form body) as the same instant', async () => {
    const t = await makeApp({ deps: { now: () => T0 } })
    for (const id of ['a', 'b', 'c']) expect((await t.call('POST', J, { name: 'n', id })).status).toBe(201)
    const at = T0 + 30_000
    const ends = [
      await t.call('POST', `${J}/a/complete`, { at: '2026-11-23T11:00:30+01:00' }),
      await t.call('POST', `${J}/b/complete`, { at }),
      await t.call('POST', `${J}/c/complete`, `at=${at}`, form),
    ]
    for (const res of ends) {
      expect(res.status).toBe(200)
      expect(((await res.json()) as { endedAt: string }).endedAt).toBe('2026-11-23T10:00:30.000Z')
    }
  })

  it('since and until take epoch milliseconds and offsets', async () => {
    const t = await fixture()
    const list = async (q: string) =>
      ((await (await t.call('GET', `${J}?${q}`)).json()) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id)
    expect(await list(`since=${T0}`)).toEqual(['r1'])
    expect(await list(`since=${T0 + 1}`)).toEqual([])
    expect(await list(`until=${encodeURIComponent('2026-11-23T11:00:00.001+01:00')}`)).toEqual(['r1'])
    expect(await list(`until=${encodeURIComponent('2026-11-23T11:00:00+01:00')}`)).toEqual([])
  })
})

describe('complete: at no more than 60 s ahead of the server clock', () => {
  it('refuses 61 s ahead with a message naming the limit, accepts 60 s', async () => {
    const t = await fixture()
    const ahead = await t.call('POST', `${J}/r1/complete`, { at: T0 + 61_000 })
    expect(ahead.status).toBe(400)
    expect(((await ahead.json()) as Err).error.message).toBe(
      'at: must not be more than 60 s ahead of the server clock (2026-11-23T10:00:00.000Z)',
    )
    expect(t.store.data.jobs.r1.status).toBe('running')
    const edge = await t.call('POST', `${J}/r1/complete`, { at: T0 + 60_000 })
    expect(edge.status).toBe(200)
  })
})
