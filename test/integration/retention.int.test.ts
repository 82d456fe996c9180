import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInfluxQL } from '../../lib/influx/influxql.ts'
import { createTransport } from '../../lib/influx/transport.ts'
import { detectServer, ensureDatabase } from '../../lib/influx/server.ts'
import type { InfluxConfig } from '../../lib/config.ts'
import { startInfluxd, type Influxd } from '../support/influxd.ts'

/** Issue #14 on the real influxd 1.6.7: qactivity's retention policies, and where each measurement lands. */
let influxd: Influxd
beforeAll(async () => {
  influxd = await startInfluxd()
})
afterAll(async () => influxd?.stop())

const cfg = (bucket: string, retention?: InfluxConfig['retention']): InfluxConfig => ({
  url: influxd.url,
  bucket,
  queryLanguage: 'influxql',
  retention,
})

async function policies(c: InfluxConfig): Promise<Record<string, string>> {
  const [r] = await createInfluxQL(c).query(`SHOW RETENTION POLICIES ON "${c.bucket}"`)
  return Object.fromEntries((r.series[0]?.values ?? []).map((v) => [String(v[0]), String(v[1])]))
}

describe('retention policies (InfluxDB 1.x)', () => {
  it('are created with the database, idempotently; a changed setting alters them; data already there stays', async () => {
    const c = cfg('rp_a')
    const server = await detectServer(c)
    await ensureDatabase(c, server)
    await ensureDatabase(c, server)
    expect(await policies(c)).toEqual({ autogen: '0s', qactivity_raw: '720h0m0s', qactivity_jobs: '0s' })
    // points in every place, then a shorter raw retention
    const t = createTransport(c, server)
    const now = Date.now()
    await t.send(
      [
        `qumulo_activity,cluster=a,client_ip=10.0.0.1,path=/p iops_read=1 ${now}`,
        `qactivity_job_activity,job_id=j,cluster=a iops_read=2 ${now}`,
        `qumulo_capacity,cluster=a,path=/p used_bytes=3i ${now}`,
      ].join('\n'),
    )
    const shorter = cfg('rp_a', { raw: '7d', jobs: 'INF' })
    await ensureDatabase(shorter, server)
    expect(await policies(shorter)).toEqual({ autogen: '0s', qactivity_raw: '168h0m0s', qactivity_jobs: '0s' })
    const ql = createInfluxQL(c)
    const [raw] = await ql.query('SELECT "iops_read" FROM "qactivity_raw"."qumulo_activity"')
    const [jobs] = await ql.query('SELECT "iops_read" FROM "qactivity_jobs"."qactivity_job_activity"')
    const [cap] = await ql.query('SELECT "used_bytes" FROM "qumulo_capacity"')
    expect([raw.series[0]?.values[0][1], jobs.series[0]?.values[0][1], cap.series[0]?.values[0][1]]).toEqual([1, 2, 3])
    // nothing of it in the default policy
    const [stray] = await ql.query('SELECT count("iops_read") FROM "autogen"."qumulo_activity"')
    expect(stray.series).toEqual([])
    t.close?.()
  })

  it('a database made before them gets them at the first write (the write is then retried)', async () => {
    const c = cfg('rp_b')
    const server = await detectServer(c)
    await createInfluxQL(c).query('CREATE DATABASE "rp_b"')
    const t = createTransport(c, server)
    await expect(t.send(`qumulo_activity,cluster=a,client_ip=10.0.0.1,path=/p iops_read=1 ${Date.now()}`)).rejects.toThrow(
      /retention policy not found/,
    )
    await t.ensureDatabase?.()
    await t.send(`qumulo_activity,cluster=a,client_ip=10.0.0.1,path=/p iops_read=1 ${Date.now()}`)
    expect(Object.keys(await policies(c)).sort()).toEqual(['autogen', 'qactivity_jobs', 'qactivity_raw'])
    t.close?.()
  })

  it('a policy whose points InfluxDB refuses does not keep the other policies of the batch from being written', async () => {
    const c = cfg('rp_c')
    const server = await detectServer(c)
    const t = createTransport(c, server)
    await t.ensureDatabase?.()
    const now = Date.now()
    await t.send(`qumulo_activity,cluster=a,client_ip=10.0.0.1,path=/p iops_read=60i ${now}`)
    // a float where the shard holds integers: refused (400), the capacity point of the same batch still lands
    await expect(
      t.send(
        `qumulo_activity,cluster=a,client_ip=10.0.0.1,path=/p iops_read=1.5 ${now + 1000}\n` +
          `qumulo_capacity,cluster=a,path=/p used_bytes=7i ${now + 1000}`,
      ),
    ).rejects.toThrow(/400|field type conflict/)
    const [cap] = await createInfluxQL(c).query('SELECT "used_bytes" FROM "qumulo_capacity"')
    expect(cap.series[0]?.values.map((v) => v[1])).toEqual([7])
    t.close?.()
  })
})
