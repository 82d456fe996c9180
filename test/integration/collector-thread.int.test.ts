import { describe, expect, it, vi } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../lib/config.ts'
import { capturedLog } from '../support/log.ts'
import { tempDir } from '../support/tmp.ts'
import { startCollectorThread } from '../../collector/thread.ts'

describe('a collector thread', () => {
  it('that cannot start says so in its status, is started again, and stops at once', async () => {
    const dir = tempDir()
    const spoolDir = join(dir, 'spool-is-a-file')
    writeFileSync(spoolDir, 'not a directory')
    const config = loadConfig(
      {
        QUMULO_URL: 'http://127.0.0.1:9',
        QUMULO_TOKEN: 'access-v1:t',
        QUMULO_CLUSTER: 'x',
        INFLUX_URL: 'http://127.0.0.1:9',
        QACTIVITY_DATA_DIR: dir,
      },
      ['qumulo', 'influx'],
    )
    const { log, lines } = capturedLog()
    const thread = startCollectorThread({
      config: { collector: config.collector, influx: config.influx, storage: config.storage, logLevel: 'error' },
      cluster: config.qumulo,
      spoolDir,
      log,
    })
    thread.start()
    await vi.waitFor(() => expect(lines.filter((l) => l.includes('Collector thread exited')).length).toBeGreaterThanOrEqual(2), {
      timeout: 20_000,
      interval: 50,
    })
    const status = thread.status()
    expect(status.ok).toBe(false)
    expect(status.failed?.join(' ')).toMatch(/start: .*spool-is-a-file|thread exited \(1\)/)
    await thread.stop()
  })
})
