import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSpool, SpoolLockedError } from '../../../lib/influx/spool.ts'
import { createDurableWriter } from '../../../lib/influx/writer.ts'
import { silentLogger } from '../../../lib/log.ts'
import { tempDir } from '../../support/tmp.ts'

const lockOf = (dir: string) => readFileSync(join(dir, '.lock'), 'utf8').trim()
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  )

/** A node process that has exited (and been reaped): its pid is free. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid!
}

describe('spool lock', () => {
  it('lets one writer at a time use a spool dir; close() releases it', async () => {
    const dir = tempDir()
    const influx = { url: 'http://127.0.0.1:1', bucket: 'qa', queryLanguage: 'influxql' as const }
    const open = () => createDurableWriter({ influx, dir, maxBytes: 2 ** 20, log: silentLogger, closeTimeoutMs: 50 })
    const a = await open()
    expect(lockOf(dir)).toBe(String(process.pid))
    const err = await failure(open())
    expect(err).toBeInstanceOf(SpoolLockedError)
    expect(err).toMatchObject({
      name: 'SpoolLockedError',
      pid: process.pid,
      dir,
      message: `spool ${dir} is in use by process ${process.pid}`,
    })
    // Refused or not, the first writer keeps its lock.
    expect(lockOf(dir)).toBe(String(process.pid))
    await a.close()
    expect(existsSync(join(dir, '.lock'))).toBe(false)
    const b = await open()
    expect(lockOf(dir)).toBe(String(process.pid))
    await b.close()
  })

  it('refuses a spool locked by another live process, and takes it over once that process is gone', async () => {
    const dir = tempDir()
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' })
    try {
      writeFileSync(join(dir, '.lock'), `${child.pid}\n`)
      const err = await failure(openSpool(dir))
      expect(err).toBeInstanceOf(SpoolLockedError)
      expect(err).toMatchObject({ pid: child.pid, dir })
      expect(lockOf(dir)).toBe(String(child.pid))
    } finally {
      child.kill('SIGKILL')
    }
    await once(child, 'exit')
    const spool = await openSpool(dir)
    expect(lockOf(dir)).toBe(String(process.pid))
    await spool.close()
  })

  it('takes over a lock whose process died (kill -9 leaves it behind)', async () => {
    const dir = tempDir()
    const pid = await deadPid()
    writeFileSync(join(dir, '.lock'), `${pid}\n`)
    const spool = await openSpool(dir)
    expect(lockOf(dir)).toBe(String(process.pid))
    await spool.close()
    expect(existsSync(join(dir, '.lock'))).toBe(false)
  })

  it.each([
    ['empty', ''],
    ['garbage', 'not a pid'],
    ['zero', '0'],
    ['negative', '-1'],
  ])('takes over an unparsable lock (%s)', async (_, text) => {
    const dir = tempDir()
    writeFileSync(join(dir, '.lock'), text)
    const spool = await openSpool(dir)
    expect(lockOf(dir)).toBe(String(process.pid))
    await spool.close()
  })

  it('takes over a lock naming its own pid that this process never took (a restarted container reuses pids)', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, '.lock'), `${process.pid}\n`)
    const spool = await openSpool(dir)
    expect(await failure(openSpool(dir))).toBeInstanceOf(SpoolLockedError)
    await spool.close()
    await spool.close() // idempotent
  })

  it('refuses two concurrent opens in one process: exactly one wins', async () => {
    const dir = tempDir()
    const results = await Promise.allSettled([openSpool(dir), openSpool(dir)])
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    expect(results.find((r) => r.status === 'rejected')?.reason).toBeInstanceOf(SpoolLockedError)
    await won[0].value.close()
  })

  it('sees one spool through a symlinked path too', async () => {
    const dir = tempDir()
    const alias = join(tempDir(), 'alias')
    symlinkSync(dir, alias)
    const spool = await openSpool(dir)
    expect(await failure(openSpool(alias))).toBeInstanceOf(SpoolLockedError)
    await spool.close()
    await (await openSpool(alias)).close()
  })
})
