import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseHookEnv, readSpool, removeEvents } from '../../../slurm/spool.ts'
import { tempDir } from '../../support/tmp.ts'

/** `env -0` output: each entry followed by a NUL. */
const env0 = (entries: string[]) => entries.map((e) => `${e}\0`).join('')

describe('parseHookEnv', () => {
  it('keeps only the SLURM_* variables of NUL-separated NAME=value entries', () => {
    const text = env0(['PATH=/usr/bin:/bin', 'SLURM_JOB_ID=42', 'HOME=/root', 'SLURM_JOB_USER=ana', 'MY_SLURM_X=1'])
    expect(parseHookEnv(text)).toEqual({ SLURM_JOB_ID: '42', SLURM_JOB_USER: 'ana' })
  })

  it('keeps a value containing = whole, an empty value, and a value with newlines', () => {
    const text = env0(['SLURM_JOB_NAME=a=b==c', 'SLURM_JOB_ACCOUNT=', 'SLURM_JOB_COMMENT=line one\nline two\n'])
    expect(parseHookEnv(text)).toEqual({
      SLURM_JOB_NAME: 'a=b==c',
      SLURM_JOB_ACCOUNT: '',
      SLURM_JOB_COMMENT: 'line one\nline two\n',
    })
  })

  it('reads the last entry without a trailing NUL and skips entries without =', () => {
    expect(parseHookEnv('SLURM_A=1\0SLURM_NOEQ\0\0SLURM_B=2')).toEqual({ SLURM_A: '1', SLURM_B: '2' })
    expect(parseHookEnv('')).toEqual({})
  })
})

describe('readSpool', () => {
  const write = (dir: string, file: string, entries: string[]) => writeFileSync(join(dir, file), env0(entries))

  it('reads the event files oldest first with their kind, time, job id and SLURM_* environment', async () => {
    const dir = tempDir()
    write(dir, '1800000000500000.311.43.prolog', ['SLURM_JOB_ID=43', 'PATH=/bin'])
    write(dir, '1800000000123456.310.42.prolog', ['SLURM_JOB_ID=42', 'SLURM_JOB_NODELIST=n[01-02]'])
    write(dir, '1800000009999999.400.42.epilog', ['SLURM_JOB_ID=42', 'SLURM_JOB_EXIT_CODE2=0:0'])
    expect(await readSpool(dir)).toEqual({
      files: ['1800000000123456.310.42.prolog', '1800000000500000.311.43.prolog', '1800000009999999.400.42.epilog'],
      events: [
        {
          file: '1800000000123456.310.42.prolog',
          kind: 'prolog',
          atMs: 1800000000123,
          jobId: 42,
          env: { SLURM_JOB_ID: '42', SLURM_JOB_NODELIST: 'n[01-02]' },
        },
        { file: '1800000000500000.311.43.prolog', kind: 'prolog', atMs: 1800000000500, jobId: 43, env: { SLURM_JOB_ID: '43' } },
        {
          file: '1800000009999999.400.42.epilog',
          kind: 'epilog',
          atMs: 1800000009999,
          jobId: 42,
          env: { SLURM_JOB_ID: '42', SLURM_JOB_EXIT_CODE2: '0:0' },
        },
      ],
      problems: [],
    })
  })

  it('reads only the notes wanted, at most max of them, and names them all', async () => {
    const dir = tempDir()
    write(dir, '1800000000000001.9.5.prolog', ['SLURM_JOB_ID=5'])
    write(dir, '1800000000000002.9.6.prolog', ['SLURM_JOB_ID=6'])
    write(dir, '1800000000000003.9.7.prolog', ['SLURM_JOB_ID=7'])
    const r = await readSpool(dir, { wanted: (f) => !f.includes('.5.'), max: 1 })
    expect(r.files).toEqual(['1800000000000001.9.5.prolog', '1800000000000002.9.6.prolog', '1800000000000003.9.7.prolog'])
    expect(r.events.map((e) => e.jobId)).toEqual([6])
  })

  it('ignores dot files (writes in progress) and hooks.log', async () => {
    const dir = tempDir()
    write(dir, '.1800000000000001.9.5.prolog', ['SLURM_JOB_ID=5'])
    writeFileSync(join(dir, 'hooks.log'), '2027-01-15T08:00:00Z prolog of job 5: cannot write to /spool\n')
    write(dir, '1800000000000002.9.6.epilog', ['SLURM_JOB_ID=6'])
    const { events, problems } = await readSpool(dir)
    expect(events.map((e) => e.file)).toEqual(['1800000000000002.9.6.epilog'])
    expect(problems).toEqual([])
  })

  it('reports a file with another name and leaves it in place', async () => {
    const dir = tempDir()
    write(dir, '1800000000000002.9.6.epilog', ['SLURM_JOB_ID=6'])
    write(dir, 'stray.txt', ['SLURM_JOB_ID=7'])
    write(dir, '1800000000000003.9.7.start', ['SLURM_JOB_ID=7'])
    write(dir, '123.9.7.prolog', ['SLURM_JOB_ID=7'])
    const { events, problems } = await readSpool(dir)
    expect(events.map((e) => e.file)).toEqual(['1800000000000002.9.6.epilog'])
    expect(problems).toEqual([
      `${join(dir, '123.9.7.prolog')}: not a hook event file`,
      `${join(dir, '1800000000000003.9.7.start')}: not a hook event file`,
      `${join(dir, 'stray.txt')}: not a hook event file`,
    ])
    expect(readdirSync(dir).sort()).toEqual(['123.9.7.prolog', '1800000000000002.9.6.epilog', '1800000000000003.9.7.start', 'stray.txt'])
  })

  it('reports an event file it cannot read as a file', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, '1800000000000004.9.8.prolog'))
    const { events, problems } = await readSpool(dir)
    expect(events).toEqual([])
    expect(problems).toEqual([`${join(dir, '1800000000000004.9.8.prolog')}: EISDIR: illegal operation on a directory, read`])
  })

  it('gives nothing for an empty spool', async () => {
    expect(await readSpool(tempDir())).toEqual({ files: [], events: [], problems: [] })
  })
})

describe('removeEvents', () => {
  it('removes the given files only and tolerates ones already removed', async () => {
    const dir = tempDir()
    for (const f of ['1800000000000001.1.1.prolog', '1800000000000002.1.1.epilog', '1800000000000003.1.2.prolog'])
      writeFileSync(join(dir, f), 'SLURM_JOB_ID=1\0')
    await removeEvents(dir, ['1800000000000001.1.1.prolog', '1800000000000002.1.1.epilog', '1800000000000009.1.9.epilog'])
    expect(readdirSync(dir)).toEqual(['1800000000000003.1.2.prolog'])
    await removeEvents(dir, ['1800000000000001.1.1.prolog'])
    expect(existsSync(join(dir, '1800000000000003.1.2.prolog'))).toBe(true)
    expect((await readSpool(dir)).events.map((e) => e.jobId)).toEqual([2])
  })

  it('does nothing for an empty list', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, '1800000000000001.1.1.prolog'), '')
    await removeEvents(dir, [])
    expect(readdirSync(dir)).toEqual(['1800000000000001.1.1.prolog'])
  })
})
