import { beforeAll, describe, expect, it } from 'vitest'
import { makeApp, TOKENS } from '../../support/api-app.ts'

type Case = [why: string, method: string, path: string, body: unknown, status: number, headers?: Record<string, string>]

const J = '/api/v1/jobs'
const long = (n: number, c = 'x') => c.repeat(n)
const form = { 'content-type': 'application/x-www-form-urlencoded' }

const cases: Case[] = [
  // POST /jobs: the body
  ['missing name', 'POST', J, {}, 400],
  ['empty name', 'POST', J, { name: '' }, 400],
  ['blank name', 'POST', J, { name: '   ' }, 400],
  ['newline in name', 'POST', J, { name: 'a\nb' }, 400],
  ['NUL in name', 'POST', J, { name: 'a\u0000b' }, 400],
  ['name over 200 characters', 'POST', J, { name: long(201) }, 400],
  ['name as a number', 'POST', J, { name: 42 }, 400],
  ['name as an array', 'POST', J, { name: ['a'] }, 400],
  ['id with a space', 'POST', J, { name: 'n', id: 'a b' }, 400],
  ['id starting with -', 'POST', J, { name: 'n', id: '-x' }, 400],
  ['id over 64 characters', 'POST', J, { name: 'n', id: long(65, 'a') }, 400],
  ['id with a slash', 'POST', J, { name: 'n', id: 'a/b' }, 400],
  ['id with Unicode', 'POST', J, { name: 'n', id: 'jöb' }, 400],
  ['empty id', 'POST', J, { name: 'n', id: '' }, 400],
  ['relative path', 'POST', J, { name: 'n', paths: ['render'] }, 400],
  ['path with ..', 'POST', J, { name: 'n', paths: ['/a/../b'] }, 400],
  ['path with .', 'POST', J, { name: 'n', paths: ['/a/./b'] }, 400],
  ['path with NUL', 'POST', J, { name: 'n', paths: ['/a\u0000b'] }, 400],
  ['path with a newline', 'POST', J, { name: 'n', paths: ['/a\nb'] }, 400],
  ['path over 4096 bytes', 'POST', J, { name: 'n', paths: ['/' + long(4096)] }, 400],
  ['path over 4096 bytes in UTF-8 (multi-byte)', 'POST', J, { name: 'n', paths: ['/' + long(2100, 'é')] }, 400],
  ['empty path', 'POST', J, { name: 'n', paths: [''] }, 400],
  ['path as a number', 'POST', J, { name: 'n', paths: [1] }, 400],
  ['101 paths', 'POST', J, { name: 'n', paths: Array.from({ length: 101 }, (_, i) => `/p${i}`) }, 400],
  ['IPv4 octet over 255', 'POST', J, { name: 'n', clients: ['10.0.0.256'] }, 400],
  ['IPv4 shorthand', 'POST', J, { name: 'n', clients: ['10.1'] }, 400],
  ['IPv4 in hex', 'POST', J, { name: 'n', clients: ['0x7f.0.0.1'] }, 400],
  ['CIDR prefix over 32', 'POST', J, { name: 'n', clients: ['1.2.3.4/33'] }, 400],
  ['CIDR prefix over 128', 'POST', J, { name: 'n', clients: ['fd00::/129'] }, 400],
  ['CIDR with two slashes', 'POST', J, { name: 'n', clients: ['10.0.0.1/24/1'] }, 400],
  ['CIDR prefix not a number', 'POST', J, { name: 'n', clients: ['10.0.0.0/x'] }, 400],
  ['IPv6 with a zone', 'POST', J, { name: 'n', clients: ['fe80::1%eth0'] }, 400],
  ['malformed IPv6', 'POST', J, { name: 'n', clients: ['fd00:::1'] }, 400],
  ['host name as a client', 'POST', J, { name: 'n', clients: ['render01.example.com'] }, 400],
  ['IPv4-mapped CIDR shorter than /96', 'POST', J, { name: 'n', clients: ['::ffff:1.2.3.4/64'] }, 400],
  ['clients as an object', 'POST', J, { name: 'n', clients: { a: 1 } }, 400],
  ['label key with a space', 'POST', J, { name: 'n', labels: { 'a b': 'x' } }, 400],
  ['empty label value', 'POST', J, { name: 'n', labels: { k: '' } }, 400],
  ['label value as a number', 'POST', J, { name: 'n', labels: { k: 1 } }, 400],
  ['33 labels', 'POST', J, { name: 'n', labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }, 400],
  ['label without =', 'POST', J, { name: 'n', labels: ['foo'] }, 400],
  ['tab in a label value', 'POST', J, { name: 'n', labels: { k: 'a\tb' } }, 400],
  ['newline in a label value', 'POST', J, { name: 'n', labels: { k: 'a\nb' } }, 400],
  ['newline in a k=v label (one-line message)', 'POST', J, { name: 'n', label: ['k=a\nb'] }, 400],
  ['tab in a k=v label of a form body', 'POST', J, 'name=n&label=k%3Da%09b', 400, form],
  ['client with a newline (one-line message)', 'POST', J, { name: 'n', clients: ['10.0.0.1\nx'] }, 400],
  ['unknown field', 'POST', J, { name: 'n', bogus: 1 }, 400],
  ['unknown field that looks like a prototype key', 'POST', J, { name: 'n', __proto__x: 1 }, 400],
  ['notify not an e-mail address', 'POST', J, { name: 'n', notify: ['not-an-email'] }, 400],
  ['empty initial comment', 'POST', J, { name: 'n', comment: '' }, 400],
  ['initial comment over 4000 characters', 'POST', J, { name: 'n', comment: long(4001) }, 400],
  ['malformed JSON', 'POST', J, '{name:', 400, { 'content-type': 'application/json' }],
  ['JSON array body', 'POST', J, '["x"]', 400, { 'content-type': 'application/json' }],
  ['JSON null body', 'POST', J, 'null', 400, { 'content-type': 'application/json' }],
  ['form body with an unknown key', 'POST', J, 'name=n&bogus=1', 400, form],
  ['form body with a relative path', 'POST', J, 'name=n&paths=rel', 400, form],
  ['body over 64 KiB', 'POST', J, { name: 'n', comment: long(70_000) }, 413],
  ['text/plain body', 'POST', J, 'name=n', 415, { 'content-type': 'text/plain' }],
  [
    'multipart body',
    'POST',
    J,
    '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nn\r\n--b--\r\n',
    415,
    { 'content-type': 'multipart/form-data; boundary=b' },
  ],
  ['body without a content type', 'POST', J, 'name=n', 415, { 'content-type': '' }],
  ['id of a job with another name', 'POST', J, { name: 'other', id: 'job-1' }, 409],
  ['id of a job with another label value', 'POST', J, { name: 'first', id: 'job-1', labels: { team: 'other' } }, 409],
  // authentication and roles
  ['no token', 'POST', J, { name: 'n' }, 401, { authorization: '' }],
  ['unknown token', 'POST', J, { name: 'n' }, 401, { authorization: 'Bearer not-a-known-token-at-all' }],
  ['basic auth instead of a bearer token', 'POST', J, { name: 'n' }, 401, { authorization: 'Basic Y2k6eA==' }],
  ['reader token creating a job', 'POST', J, { name: 'n' }, 403, { authorization: `Bearer ${TOKENS[1].token}` }],
  ['reader token completing a job', 'POST', `${J}/job-1/complete`, {}, 403, { authorization: `Bearer ${TOKENS[1].token}` }],
  ['writer token on an admin route', 'POST', '/api/v1/admin/archive', {}, 403],
  ['no token on a read', 'GET', `${J}/job-1`, undefined, 401, { authorization: '' }],
  // paths and clients
  ['paths of a missing job', 'POST', `${J}/nope/paths`, { path: '/x' }, 404],
  ['no path at all', 'POST', `${J}/job-1/paths`, {}, 400],
  ['relative path attached', 'POST', `${J}/job-1/paths`, { path: 'rel' }, 400],
  ['malformed job id in the URL', 'POST', `${J}/bad%20id/paths`, { path: '/x' }, 400],
  ['path attached to a completed job', 'POST', `${J}/done-1/paths`, { path: '/new' }, 409],
  ['malformed client', 'POST', `${J}/job-1/clients`, { client: 'nope' }, 400],
  ['one bad client among good ones', 'POST', `${J}/job-1/clients`, { clients: ['10.0.0.9', 'x'] }, 400],
  ['client attached to a completed job', 'POST', `${J}/done-1/clients`, { client: '10.9.9.9' }, 409],
  ['no client and no caller address known', 'POST', `${J}/job-1/clients`, {}, 400],
  // comments
  ['empty comment', 'POST', `${J}/job-1/comments`, { text: '' }, 400],
  ['comment without text', 'POST', `${J}/job-1/comments`, {}, 400],
  ['comment with NUL', 'POST', `${J}/job-1/comments`, { text: 'a\u0000b' }, 400],
  ['comment over 4000 characters', 'POST', `${J}/job-1/comments`, { text: long(4001) }, 400],
  ['comment on a missing job', 'POST', `${J}/nope/comments`, { text: 'hi' }, 404],
  // completion
  ['unknown status', 'POST', `${J}/job-1/complete`, { status: 'done' }, 400],
  ['unparsable completion time', 'POST', `${J}/job-1/complete`, { at: 'yesterday' }, 400],
  ['completion before the start', 'POST', `${J}/job-1/complete`, { at: '2000-01-01T00:00:00Z' }, 400],
  ['completion far in the future', 'POST', `${J}/job-1/complete`, { at: '2999-01-01T00:00:00Z' }, 400],
  ['completing twice', 'POST', `${J}/done-1/complete`, {}, 409],
  ['unknown field on completion', 'POST', `${J}/job-1/complete`, { status: 'failed', extra: 1 }, 400],
  // listing
  ['limit 0', 'GET', `${J}?limit=0`, undefined, 400],
  ['limit not a number', 'GET', `${J}?limit=abc`, undefined, 400],
  ['limit over 500', 'GET', `${J}?limit=501`, undefined, 400],
  ['unknown status filter', 'GET', `${J}?status=bogus`, undefined, 400],
  ['unparsable since', 'GET', `${J}?since=notadate`, undefined, 400],
  ['label filter without :', 'GET', `${J}?label=team`, undefined, 400],
  ['malformed cursor', 'GET', `${J}?cursor=!!!`, undefined, 400],
  ['cursor that decodes to garbage', 'GET', `${J}?cursor=Zm9v`, undefined, 400],
  ['unknown query parameter', 'GET', `${J}?bogus=1`, undefined, 400],
  ['missing job', 'GET', `${J}/nope`, undefined, 404],
  ['unknown route', 'GET', '/api/v1/nothing-here', undefined, 404],
]

describe('bad input: a clear 4xx, never a 5xx, nothing stored', () => {
  let t: Awaited<ReturnType<typeof makeApp>>
  beforeAll(async () => {
    t = await makeApp()
    expect(
      (await t.call('POST', J, { name: 'first', id: 'job-1', paths: ['/a'], clients: ['10.0.0.1'], labels: { team: 'fx' } })).status,
    ).toBe(201)
    expect((await t.call('POST', J, { name: 'second', id: 'done-1' })).status).toBe(201)
    expect((await t.call('POST', `${J}/done-1/complete`, {})).status).toBe(200)
  })

  it('covers at least 60 cases', () => expect(cases.length).toBeGreaterThanOrEqual(60))

  it.each(cases)('%s → %i', async (_why, method, path, body, status, headers = {}) => {
    const before = JSON.stringify(t.store.data)
    const res = await t.call(method, path, body, headers)
    expect(res.status).toBe(status)
    const json = (await res.json()) as { error: { code: string; message: string } }
    expect(json.error.code).toMatch(/^[a-z_]+$/)
    expect(json.error.message.length).toBeGreaterThan(3)
    expect(json.error.message).not.toContain('\n')
    expect(JSON.stringify(t.store.data)).toBe(before)
  })

  it.each([
    ['a,b,c,d,e,f,g,h,i,j,k', 'jobs: at most 10 job ids'],
    ['a', 'jobs: give at least 2 job ids, comma-separated'],
  ])('compare jobs=%s: the field named once', async (jobs, message) => {
    const res = await t.call('GET', `/api/v1/compare?jobs=${jobs}`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(message)
  })

  it('names the offending field', async () => {
    const res = await t.call('POST', J, { name: 'n', clients: ['10.0.0.1', 'nope'] })
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^clients\.1: "nope" is not an IPv4\/IPv6 address or CIDR$/,
    )
  })
})
