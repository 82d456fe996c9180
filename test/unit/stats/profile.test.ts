import { describe, expect, it } from 'vitest'
import { MIN_OPS_TO_TAG, profileOf, profileText, tagsOf } from '../../../stats/profile.ts'
import type { ClusterShare } from '../../../stats/share.ts'

const activity = (t: Partial<Record<string, number>>) =>
  Object.fromEntries(
    ['iops_read', 'iops_write', 'metadata_iops_read', 'metadata_iops_write', 'throughput_read', 'throughput_write'].map((f) => [
      f,
      { total: t[f] ?? 0 },
    ]),
  ) as Parameters<typeof profileOf>[0]
const share = (peak: number): ClusterShare => ({ iops_read: { total: 1, peak }, used_bytes: { total: null } }) as unknown as ClusterShare

describe('profileOf', () => {
  it('mean I/O size per direction, metadata per data op, read share of ops and bytes; null where the divisor is 0', () => {
    const p = profileOf(
      activity({ iops_read: 100, iops_write: 300, metadata_iops_read: 50, throughput_read: 409_600, throughput_write: 0 }),
    )
    expect(p).toEqual({ meanIoSize: { read: 4096, write: 0 }, metadataPerDataOp: 0.125, readPct: { ops: 25, bytes: 100 } })
    expect(profileOf(activity({}))).toEqual({
      meanIoSize: { read: null, write: null },
      metadataPerDataOp: null,
      readPct: { ops: null, bytes: null },
    })
    expect(profileText(p)).toBe('read 4.0 KiB/op, write 0 B/op; 0.13 metadata ops per data op; reads 25 % of ops, 100 % of bytes')
    expect(profileText(profileOf(activity({})))).toBe('—')
  })
})

describe('tagsOf', () => {
  const big = 1 << 20
  it('tags by the thresholds, each rule at its edge', () => {
    expect(tagsOf(activity({ metadata_iops_read: 2000, iops_read: 1000, throughput_read: 1000 * big }), undefined)).toEqual([
      'metadata-heavy',
    ])
    expect(tagsOf(activity({ metadata_iops_read: 1999, iops_read: 1000, throughput_read: 1000 * big }), undefined)).toEqual([])
    expect(tagsOf(activity({ iops_read: 1000, throughput_read: 1000 * 65_535 }), undefined)).toEqual(['small-io'])
    expect(tagsOf(activity({ iops_read: 1000, throughput_read: 1000 * 65_536 }), undefined)).toEqual([])
    expect(tagsOf(activity({ iops_write: 1000, throughput_write: 75 * big, throughput_read: 25 * big * 1000 }), undefined)).toEqual([])
    expect(tagsOf(activity({ iops_write: 1000, throughput_write: 750 * big, throughput_read: 250 * big }), undefined)).toEqual([
      'write-heavy',
    ])
    expect(tagsOf(activity({}), share(50))).toEqual(['cluster-hog'])
    expect(tagsOf(activity({}), share(49.9))).toEqual([])
    expect(
      tagsOf(activity({ iops_read: 1000, throughput_read: 1000 * big }), share(10), {
        metadataRatio: 2,
        smallIoKiB: 2048,
        writeHeavyPct: 75,
        hogPct: 5,
      }),
    ).toEqual(['small-io', 'cluster-hog'])
  })

  it(`judges a mix only from ${MIN_OPS_TO_TAG} operations on`, () => {
    expect(tagsOf(activity({ metadata_iops_read: MIN_OPS_TO_TAG - 1 }), undefined)).toEqual([])
    expect(tagsOf(activity({ iops_write: MIN_OPS_TO_TAG - 1, throughput_write: 1 }), undefined)).toEqual([])
  })
})
