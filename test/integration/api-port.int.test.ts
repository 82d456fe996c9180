import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { tempDir } from '../support/tmp.ts'

/** `qactivity api` as a child process: its exit code and stderr once it exits or logs that it listens. */

const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname

interface Run {
  code: number | null
  stderr: string
  /** the URL it logged when listening (then it was stopped with SIGTERM) */
  url?: string
}

function runApi(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'api'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      cwd: tempDir(),
    })
    let stderr = ''
    let url: string | undefined
    child.stdout.resume()
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      const m = /msg="API listening".* url=(\S+)/.exec(stderr)
      if (m && !url) {
        url = m[1]
        child.kill('SIGTERM')
      }
    })
    // Only a hung child trips this: it must not outlive the test.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(guard)
      resolve({ code, stderr, url })
    })
  })
}

const listening = (): Promise<Server> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => resolve(s))
  })

describe('qactivity api on a port that is taken', () => {
  it('exits 1 with one line naming the port, leaves no lock behind, and starts on a free port afterwards', async () => {
    const taken = await listening()
    const port = (taken.address() as { port: number }).port
    const dataDir = tempDir()
    const env = {
      QACTIVITY_AUTH: 'off',
      QACTIVITY_HOST: '127.0.0.1',
      QACTIVITY_DATA_DIR: dataDir,
      INFLUX_URL: 'http://127.0.0.1:1',
      QACTIVITY_LOG_LEVEL: 'error',
    }
    try {
      const busy = await runApi({ ...env, QACTIVITY_PORT: String(port) })
      expect(busy.code).toBe(1)
      expect(busy.stderr).toBe(`qactivity: QACTIVITY_PORT: 127.0.0.1:${port} is already in use\n`)
    } finally {
      taken.close()
    }
    expect(existsSync(join(dataDir, 'jobs.json.lock'))).toBe(false)
    expect(existsSync(join(dataDir, 'spool-api', '.lock'))).toBe(false)

    const again = await runApi({ ...env, QACTIVITY_PORT: '0', QACTIVITY_LOG_LEVEL: 'info' })
    expect(again.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(again.code).toBe(0)
  })
})
