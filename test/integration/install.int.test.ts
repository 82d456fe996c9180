import { beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { packAndInstall, type PackedInstall } from '../support/packed.ts'
import { tempDir } from '../support/tmp.ts'

/**
 * The package as users install it: packed, installed under a temporary prefix and run from outside
 * the checkout, so only what the tarball ships (dist/, no TypeScript sources, no tsx) is there.
 */

const UNITS = new URL('../../packaging/systemd/', import.meta.url).pathname
let dir: string
let pkg: PackedInstall

beforeAll(() => {
  dir = tempDir('qactivity-pack-')
  pkg = packAndInstall(dir)
}, 240_000)

function run(args: string[]) {
  return spawnSync(pkg.bin, args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir } })
}

describe('npm pack', () => {
  it('ships the built code, the units and the provisioning files, no sources, tests or benchmarks', () => {
    const tops = new Set(pkg.files.map((f) => f.split('/')[0]))
    expect([...tops].sort()).toEqual(['README.md', 'bin', 'dist', 'package.json', 'packaging', 'provisioning'])
    expect(pkg.files.filter((f) => f.startsWith('bin/'))).toEqual(['bin/qactivity.mjs'])
    expect(pkg.files.filter((f) => f.endsWith('.ts'))).toEqual([])
    expect(pkg.files).toContain('dist/cli/main.js')
    expect(pkg.files).toContain('dist/simulator/scenarios/demo.json')
    expect(pkg.files).toContain('packaging/systemd/qactivity.service')
    expect(pkg.files.some((f) => /test|bench/.test(f.split('/')[1] ?? ''))).toBe(false)
  })

  it('runs --version, dashboards --out and simulate --help from the installed package', () => {
    const version = run(['--version'])
    expect(version.stderr).toBe('')
    expect(version.stdout).toBe(
      `${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n`,
    )

    const out = join(dir, 'dashboards')
    const dash = run(['dashboards', '--out', out])
    expect(dash.status, dash.stderr).toBe(0)
    expect(readdirSync(join(out, 'influxql')).sort()).toEqual(['cluster.json', 'compare.json', 'job.json', 'usage.json'])
    expect(readdirSync(join(out, 'flux')).sort()).toEqual(['cluster.json', 'compare.json', 'job.json', 'usage.json'])

    const help = run(['simulate', '--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Usage: qactivity simulate')
    // tsx is a development dependency: the installed package must not need it
    expect(existsSync(join(pkg.prefix, 'lib/node_modules/qactivity/node_modules/tsx'))).toBe(false)
  })

  it('starts the simulator on its default scenario, read from dist/', async () => {
    const child = spawn(pkg.bin, ['simulate', '--port', '0'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir } })
    let stderr = ''
    const line = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        const l = stderr.split('\n').find((x) => x.includes('Qumulo simulator listening'))
        if (l) resolve(l)
      })
      child.on('exit', (code) => reject(new Error(`simulate exited ${code}: ${stderr.trim()}`)))
    })
    child.kill()
    expect(line).toContain(join(pkg.prefix, 'lib/node_modules/qactivity/dist/simulator/scenarios/demo.json'))
  })
})

describe('systemd units', () => {
  // `systemd-analyze verify` refuses an ExecStart whose program does not exist, and the units name
  // /usr/local/bin/qactivity: the copies verified here name the packed install's executable instead.
  function verify(files: Record<string, string>, names: string[]) {
    const units = tempDir('qactivity-units-')
    for (const [name, text] of Object.entries(files)) writeFileSync(join(units, name), text.replaceAll('/usr/local/bin/qactivity', pkg.bin))
    const paths = names.map((n) => {
      const template = n.replace(/@[^.]+\./, '@.')
      if (template !== n) symlinkSync(join(units, template), join(units, n))
      return join(units, n)
    })
    return spawnSync('systemd-analyze', ['verify', ...paths], { encoding: 'utf8' })
  }
  const read = (name: string) => readFileSync(join(UNITS, name), 'utf8')

  it('pass systemd-analyze verify without a single warning (serve, and a collector instance)', () => {
    const r = verify({ 'qactivity.service': read('qactivity.service'), 'qactivity-collect@.service': read('qactivity-collect@.service') }, [
      'qactivity.service',
      'qactivity-collect@lab.service',
    ])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('the check sees a mistake: an unknown key and a missing program both fail it', () => {
    const typo = verify({ 'qactivity.service': read('qactivity.service').replace('NoNewPrivileges=', 'NoNewPrivilege=') }, [
      'qactivity.service',
    ])
    expect(typo.stderr).toContain("Unknown key 'NoNewPrivilege'")
    const missing = verify(
      { 'qactivity.service': read('qactivity.service').replace('/usr/local/bin/qactivity', '/nonexistent/qactivity') },
      ['qactivity.service'],
    )
    expect(missing.status).not.toBe(0)
  })

  it('run as the qactivity user with the env files, hardened, each collector with its own data dir', () => {
    for (const name of ['qactivity.service', 'qactivity-collect@.service']) {
      const text = read(name)
      for (const line of ['User=qactivity', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'EnvironmentFile=/etc/qactivity/qactivity.env'])
        expect(text, name).toContain(`\n${line}\n`)
      const dataDir = /^Environment=QACTIVITY_DATA_DIR=(.+)$/m.exec(text)?.[1]
      const state = /^StateDirectory=(.+)$/m.exec(text)?.[1]
      expect(dataDir, name).toBe(`/var/lib/${state}`) // systemd creates it for the user; everything else is read-only
    }
    expect(read('qactivity.service')).toMatch(/^ExecStart=\/usr\/local\/bin\/qactivity serve$/m)
    expect(read('qactivity-collect@.service')).toMatch(/^ExecStart=\/usr\/local\/bin\/qactivity collect$/m)
    expect(read('qactivity-collect@.service')).toContain('\nEnvironmentFile=/etc/qactivity/collect-%i.env\n')
  })
})
