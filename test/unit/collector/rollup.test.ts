import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ActivitySeries } from '../../../collector/activity.ts'
import { Rollup, periodOf, rollupFile } from '../../../collector/rollup.ts'

const series = (clientIp: string, path: string, ...rates: number[]): ActivitySeries => ({
  clientIp,
  path,
  rates: Float64Array.from([...rates, 0, 0, 0, 0, 0, 0].slice(0, 6)),
})

/** Steps and commits, as the cycle does when the write was accepted. */
async function poll(r: Rollup, time: number, s: ActivitySeries[] | undefined): Promise<string[]> {
  const step = await r.step(time, s)
  await r.commit(step)
  return step.lines
}

describe('periodOf', () => {
  it('puts a poll stamped t in the period whose (P, P+H] holds it', () => {
    expect(periodOf(3600, 3600)).toBe(0)
    expect(periodOf(3601, 3600)).toBe(3600)
    expect(periodOf(60, 3600)).toBe(0)
    expect(periodOf(7200, 3600)).toBe(3600)
  })
})

describe('Rollup', () => {
  it('sums rate × I per path, client and cluster, keeps the highest per-poll sum, writes a period with the next poll', async () => {
    const r = new Rollup('c1', 60, 10)
    // polls at 10..60 belong to [0, 60); the one at 70 completes it
    expect(await poll(r, 10, [series('10.0.0.1', '/a', 5), series('10.0.0.2', '/a', 3), series('10.0.0.1', '/b', 1)])).toEqual([])
    expect(await poll(r, 20, [series('10.0.0.1', '/a', 2)])).toEqual([])
    expect(await poll(r, 30, undefined)).toEqual([]) // Qumulo did not answer: not summed
    const lines = await poll(r, 70, [series('10.0.0.1', '/a', 100)])
    const byTag = Object.fromEntries(lines.map((l) => [l.split(' ')[0], l]))
    expect(Object.keys(byTag).sort()).toEqual([
      'qumulo_activity_rollup,client_ip=10.0.0.1,cluster=c1',
      'qumulo_activity_rollup,client_ip=10.0.0.2,cluster=c1',
      'qumulo_activity_rollup,cluster=c1',
      'qumulo_activity_rollup,cluster=c1,path=/a',
      'qumulo_activity_rollup,cluster=c1,path=/b',
    ])
    // path /a: polls 8 and 2 ops/s → total (8 + 2) × 10, peak 8 (the per-poll sum over clients)
    expect(byTag['qumulo_activity_rollup,cluster=c1,path=/a']).toContain('iops_read_total=100,iops_read_peak=8,')
    // client 10.0.0.1: polls 6 and 2 → total 80, peak 6
    expect(byTag['qumulo_activity_rollup,client_ip=10.0.0.1,cluster=c1']).toContain('iops_read_total=80,iops_read_peak=6,')
    // the cluster: polls 9 and 2 → total 110, peak 9 (not the sum of its paths' peaks, 8 + 1)
    expect(byTag['qumulo_activity_rollup,cluster=c1']).toContain('iops_read_total=110,iops_read_peak=9,')
    expect(lines[0]).toMatch(/polls=2i/)
    expect(lines[0].endsWith(' 0')).toBe(true) // stamped at the period's start (ms)
    expect((await r.current())?.period).toBe(60)
  })

  it('does not sum a poll twice, nor one older than the running period, and writes nothing for a period without polls', async () => {
    const r = new Rollup('c1', 60, 10)
    await poll(r, 70, [series('10.0.0.1', '/a', 1)])
    expect(await poll(r, 70, [series('10.0.0.1', '/a', 1)])).toEqual([])
    expect(await poll(r, 50, [series('10.0.0.1', '/a', 1)])).toEqual([])
    expect((await r.current())?.polls).toBe(1)
    await poll(r, 130, undefined) // completes [60, 120) with its one poll
    expect(await poll(r, 190, undefined)).toEqual([]) // [120, 180) had none
  })

  it('keeps nothing of a poll whose write was refused', async () => {
    const r = new Rollup('c1', 60, 10)
    await poll(r, 10, [series('10.0.0.1', '/a', 1)])
    await r.step(20, [series('10.0.0.1', '/a', 50)]) // not committed: the spool refused the write
    const lines = await poll(r, 70, [])
    expect(lines.find((l) => l.includes('path=/a'))).toContain('iops_read_total=10,iops_read_peak=1,')
  })

  it('continues the running period from its file after a restart, and starts afresh from an unreadable one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollup-'))
    const file = rollupFile(dir, 'my cluster/1')
    expect(file).toBe(join(dir, 'rollup', 'my%20cluster%2F1.json'))
    await poll(new Rollup('c1', 60, 10, file), 10, [series('10.0.0.1', '/a', 1)])
    const again = new Rollup('c1', 60, 10, file)
    await poll(again, 20, [series('10.0.0.1', '/a', 2)])
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ period: 0, polls: 2, lastPoll: 20 })
    expect((await poll(again, 70, []))[0]).toContain('iops_read_total=30,iops_read_peak=2,')

    writeFileSync(file, '{"period": "x"}')
    const problems: string[] = []
    const fresh = new Rollup('c1', 60, 10, file)
    await fresh.commit(await fresh.step(80, [series('10.0.0.1', '/a', 1)], (m) => problems.push(m)))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/my%20cluster%2F1\.json: not a rollup state .*moved to .*\.bad/)
    expect(existsSync(`${file}.bad`)).toBe(true)
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ period: 60, polls: 1 })
  })

  it('ends a saved period of another length as it stands, and sums every later poll in the new one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollup-'))
    const file = rollupFile(dir, 'c1')
    await poll(new Rollup('c1', 60, 10, file), 10, [series('10.0.0.1', '/a', 1)])
    await poll(new Rollup('c1', 60, 10, file), 20, [series('10.0.0.1', '/a', 2)])
    // QACTIVITY_ROLLUP_PERIOD 1m → 5m: the minute's state is written with the next poll, nothing skipped
    const longer = new Rollup('c1', 300, 10, file)
    const lines = await poll(longer, 30, [series('10.0.0.1', '/a', 4)])
    expect(lines.find((l) => l.includes('path=/a'))).toMatch(/iops_read_total=30,.* 0$/)
    expect(await longer.current()).toMatchObject({ period: 0, periodSeconds: 300, polls: 1, lastPoll: 30 })
  })

  it('removes its file when a save fails, so that a restart cannot write a finished period again from older polls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollup-'))
    const file = rollupFile(dir, 'c1')
    const r = new Rollup('c1', 60, 10, file)
    await poll(r, 10, [series('10.0.0.1', '/a', 1)])
    expect(existsSync(file)).toBe(true)
    // the next save cannot rename onto the file: a directory stands where its temp file goes
    mkdirSync(`${file}.tmp`)
    await expect(poll(r, 20, [series('10.0.0.1', '/a', 2)])).rejects.toThrow()
    expect(existsSync(file)).toBe(false)
    expect((await r.current())?.polls).toBe(2) // memory keeps summing
  })
})
