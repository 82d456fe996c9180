import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startInfluxd, type Influxd } from '../support/influxd.ts'
import { tempDir } from '../support/tmp.ts'

// The README's first command, `qactivity demo`, as a user runs it (a child process), against the test's influxd.
let influxd: Influxd
beforeAll(async () => {
  influxd = await startInfluxd()
})
afterAll(async () => influxd?.stop())

describe('qactivity demo', () => {
  it('runs a job end to end: activity in InfluxDB, the job, its stats and its PDF report', () => {
    const dataDir = tempDir()
    const r = spawnSync(process.execPath, ['bin/qactivity.mjs', 'demo', '--cycles', '2'], {
      env: { ...process.env, INFLUX_URL: influxd.url, INFLUX_BUCKET: 'demo_it', QACTIVITY_DATA_DIR: dataDir, QACTIVITY_LOG_LEVEL: 'error' },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/cycle at .*activity entries/)
    expect(r.stdout).toMatch(/^iops_read\s+\S+ k? ?ops/m)
    const pdf = readdirSync(join(dataDir, 'demo')).find((f) => /^report-.*\.pdf$/.test(f))
    expect(pdf).toBeDefined()
    expect(execFileSync('pdftotext', [join(dataDir, 'demo', pdf!), '-'], { encoding: 'utf8' })).toContain('demo-render')
  }, 90_000)
})
