import { describe, expect, it } from 'vitest'
import { PathResolver, RESOLVE_BATCH, type ResolveApi } from '../../../collector/resolver.ts'

/** Stands in for Qumulo's resolve endpoint: counts calls, answers `""` for unknown ids, can fail. */
function fakeQumulo(known: (id: string) => string | undefined) {
  const batches: number[] = []
  let failNext = 0
  const api: ResolveApi = {
    async resolve(ids) {
      batches.push(ids.length)
      if (failNext > 0) {
        failNext--
        throw new Error('[POST] /v1/files/resolve: 503 Service Unavailable')
      }
      return new Map(ids.map((id) => [id, known(id) ?? '']))
    },
  }
  return { api, batches, failOnce: () => (failNext = 1) }
}

const id = (n: number) => '131072291465916581' + String(n).padStart(12, '0')

describe('PathResolver', () => {
  it('asks only for ids not cached, at most 1000 per request', async () => {
    const q = fakeQumulo((x) => `/d/${x}`)
    const r = new PathResolver(q.api, 100_000, 60_000)
    const first = await r.resolveAll(Array.from({ length: 2500 }, (_, i) => id(i)))
    expect(q.batches).toEqual([1000, 1000, 500])
    expect(first.misses).toBe(2500)
    const second = await r.resolveAll(Array.from({ length: 3000 }, (_, i) => id(i)))
    expect(q.batches.slice(3)).toEqual([500])
    expect(second.hits).toBe(2500)
    expect(second.directories.get(id(2999))).toBe('/d')
    expect(Math.max(...q.batches)).toBeLessThanOrEqual(RESOLVE_BATCH)
  })

  it('looks each distinct id up once per cycle even when repeated', async () => {
    const q = fakeQumulo(() => '/x/f')
    const r = new PathResolver(q.api, 1000, 60_000)
    const rep = await r.resolveAll([id(1), id(1), id(2), id(1)])
    expect(q.batches).toEqual([2])
    expect(rep.directories.size).toBe(2)
  })

  it('caches deleted ids ("") so they are not asked again', async () => {
    const q = fakeQumulo(() => undefined)
    const r = new PathResolver(q.api, 1000, 60_000)
    expect((await r.resolveAll([id(7)])).directories.get(id(7))).toBe('')
    await r.resolveAll([id(7)])
    expect(q.batches).toEqual([1])
  })

  it('keeps ids of a failed batch as unresolved and retries them next cycle', async () => {
    const q = fakeQumulo(() => '/a/f')
    const r = new PathResolver(q.api, 1000, 60_000)
    q.failOnce()
    const rep = await r.resolveAll([id(1), id(2)])
    expect(rep.failed).toBe(2)
    expect(rep.errors).toHaveLength(1)
    expect(rep.directories.get(id(1))).toBe('')
    const again = await r.resolveAll([id(1), id(2)])
    expect(again.directories.get(id(1))).toBe('/a')
    expect(again.misses).toBe(2)
  })

  it('forgets entries after the TTL', async () => {
    const q = fakeQumulo(() => '/a/f')
    const r = new PathResolver(q.api, 1000, 30)
    await r.resolveAll([id(1)])
    await new Promise((res) => setTimeout(res, 60))
    await r.resolveAll([id(1)])
    expect(q.batches).toEqual([1, 1])
  })
})
