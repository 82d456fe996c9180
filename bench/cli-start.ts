/**
 * CLI start-up: what a Slurm prolog pays per call. The project is packed and installed under a temp
 * prefix (as users get it), then each command runs RUNS times, round-robin so load drifts on the
 * shared machine hit every row alike, next to `node -e 0` measured in the same run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { packAndInstall } from '../test/support/packed.ts'
import { tempDir } from '../test/support/tmp.ts'
import { printTable, quantile, row } from './table.ts'

const RUNS = Number(process.env.RUNS ?? 20)
const CHECKOUT_BIN = new URL('../bin/qactivity.mjs', import.meta.url).pathname

function startApi(bin: string, dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  mkdirSync(dataDir)
  // No auth, and an INFLUX_URL nobody listens on: job events wait in the spool, `job start` does not wait for them.
  const env = {
    PATH: process.env.PATH ?? '',
    QACTIVITY_AUTH: 'off',
    QACTIVITY_DATA_DIR: dataDir,
    QACTIVITY_HOST: '127.0.0.1',
    QACTIVITY_PORT: '0',
    INFLUX_URL: 'http://127.0.0.1:9',
  }
  const child = spawn(bin, ['api'], { env, cwd: dataDir, stdio: ['ignore', 'ignore', 'pipe'] })
  return new Promise((resolve, reject) => {
    let err = ''
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const url = /msg="API listening".* url=(\S+)/.exec(err)?.[1]
      if (url) resolve({ child, url })
    })
    child.on('exit', (code) => reject(new Error(`qactivity api exited ${code}: ${err.trim()}`)))
  })
}

const dir = tempDir('qactivity-bench-cli-')
process.stderr.write('packing and installing…\n')
const pkg = packAndInstall(dir)
const api = await startApi(pkg.bin, join(dir, 'data'))
const env = { PATH: process.env.PATH ?? '', HOME: dir, QACTIVITY_URL: api.url }
const job = ['job', 'start', '--name', 'bench', '--path', '/bench']

const cases: Array<{ name: string; cmd: string; args: string[]; goal?: number }> = [
  { name: '`node -e 0`', cmd: process.execPath, args: ['-e', '0'] },
  { name: '`qactivity --version` (installed, dist/)', cmd: pkg.bin, args: ['--version'], goal: 120 },
  { name: '`qactivity job start` (installed, dist/)', cmd: pkg.bin, args: job, goal: 200 },
  { name: '`qactivity --version` (checkout, tsx)', cmd: process.execPath, args: [CHECKOUT_BIN, '--version'] },
  { name: '`qactivity job start` (checkout, tsx)', cmd: process.execPath, args: [CHECKOUT_BIN, ...job] },
]
const times = cases.map(() => [] as number[])
for (let i = -2; i < RUNS; i++) {
  for (const [k, c] of cases.entries()) {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(c.cmd, c.args, { cwd: dir, env, encoding: 'utf8' })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr.trim()}`)
    if (i >= 0) times[k].push(ms) // the first two rounds warm the page cache
  }
}
api.child.kill()

const base = quantile(times[0], 0.5)
for (const [k, c] of cases.entries()) {
  const median = quantile(times[k], 0.5)
  const figure =
    `median ${median.toFixed(0)} ms, p90 ${quantile(times[k], 0.9).toFixed(0)} ms` +
    (k ? ` (node -e 0 + ${(median - base).toFixed(0)} ms)` : '')
  row(`${c.name}, ${RUNS} runs`, figure, c.goal ? `median ≤ ${c.goal} ms` : '—', c.goal ? median <= c.goal : undefined)
}
printTable()
