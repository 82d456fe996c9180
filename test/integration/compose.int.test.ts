import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'

// No Docker engine runs here; Debian's docker-compose validates the file offline (platform.md).
function config(args: string[], env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args, 'config'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  })
}

describe('docker-compose.yml', () => {
  const secrets = { INFLUX_TOKEN: 'test-token', INFLUX_ADMIN_PASSWORD: 'test-password', QACTIVITY_API_TOKENS: 'ci:0123456789abcdef' }

  it('validates, with and without the demo profile', () => {
    const plain = config([], secrets)
    expect(plain.stderr).toBe('')
    expect(plain.status).toBe(0)
    expect(plain.stdout).toContain('influxdb:2.7.11')
    // docker-compose 1.29 renders profiled services too; the simulator must sit in the demo profile
    expect(plain.stdout).toMatch(/^  qumulo-simulator:\n(?:    .*\n)*?    profiles:\n    - demo$/m)
    const demo = config(['--profile', 'demo'], secrets)
    expect(demo.status).toBe(0)
    expect(demo.stdout).toMatch(/^  qumulo-simulator:$/m)
  })

  it('refuses to render without the secrets, naming them', () => {
    const r = config([], {})
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/INFLUX_(TOKEN|ADMIN_PASSWORD)|QACTIVITY_API_TOKENS/)
  })
})
