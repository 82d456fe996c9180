import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { COMMANDS, JOB_SUBCOMMANDS, SUBCOMMANDS, USAGE, type CommandName } from '../../../cli/commands.ts'

const BIN = fileURLToPath(new URL('../../../bin/qactivity.mjs', import.meta.url))
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Runs the real executable; no configuration, so anything that reached a command's body would fail. */
async function qactivity(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // SLURM_CONF: a slurm.conf of this machine's own never matters (`slurm conf` is refused before it writes)
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, SLURM_CONF: '/nonexistent/slurm.conf' }
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env,
      cwd: fileURLToPath(new URL('.', import.meta.url)),
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** What bash offers for `words` (the cursor after the last one), with the script loaded as a user would. */
async function complete(script: string, words: string[]): Promise<string[]> {
  const line = words.map((w) => `'${w}'`).join(' ')
  const cmd = `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _qactivity; printf '%s\\n' "\${COMPREPLY[@]}"`
  const { stdout } = await promisify(execFile)('bash', ['--norc', '--noprofile', '-c', cmd])
  return stdout.split('\n').filter(Boolean).sort()
}

describe('qactivity (the executable)', () => {
  it('slurm: a usage error is one line and exit 2; a missing slurm.conf is named, exit 1, nothing written', async () => {
    expect(await qactivity('slurm')).toEqual({ code: 2, stdout: '', stderr: 'qactivity: slurm: give conf or sync\n' })
    expect(await qactivity('slurm', 'start')).toMatchObject({
      code: 2,
      stderr: 'qactivity: slurm: unknown subcommand "start" (conf or sync)\n',
    })
    expect(await qactivity('slurm', 'sync', '--hooks-dir', '/x')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/belongs to slurm conf/),
    })
    const r = await qactivity('slurm', 'conf', '--hooks-dir', '/nonexistent/qactivity-hooks')
    expect(r).toMatchObject({ code: 1, stdout: '' })
    expect(r.stderr).toBe("qactivity: slurm conf: no /nonexistent/slurm.conf (set SLURM_CONF to the cluster's slurm.conf)\n")
  })

  it('--version and -V print the package version', async () => {
    for (const flag of ['--version', '-V']) expect(await qactivity(flag)).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
  })

  it('<command> --help prints that command’s usage and runs nothing, for every command', async () => {
    for (const name of Object.keys(COMMANDS) as CommandName[]) {
      const r = await qactivity(name, '--help')
      expect(r, name).toEqual({ code: 0, stdout: COMMANDS[name].usage, stderr: '' })
    }
    expect((await qactivity('collect', '--once', '-h')).stdout).toBe(COMMANDS.collect.usage)
  })

  it('job <sub> --help prints that subcommand only', async () => {
    const r = await qactivity('job', 'stats', '--help')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: qactivity job stats \[ID\] \[--top N\]\n/)
    expect(r.stdout).not.toContain('add-path')
  })

  it('the top-level help names every job subcommand; no command is a usage error on stderr only', async () => {
    const jobLine = USAGE.split('\n').find((l) => l.startsWith('  job '))!
    for (const sub of SUBCOMMANDS) expect(jobLine).toContain(sub)
    expect(jobLine).toContain('report')
    const none = await qactivity()
    expect(none.code).toBe(2)
    expect(none.stdout).toBe('')
    expect(none.stderr).toMatch(/^qactivity: missing command: serve, .* \(try qactivity --help\)\n$/)
  })

  it('completion bash: valid bash that completes commands, job subcommands and their flags', async () => {
    const r = await qactivity('completion', 'bash')
    expect(r.code).toBe(0)
    await promisify(execFile)('bash', ['-n', '-c', r.stdout])
    expect(await complete(r.stdout, ['qactivity', 'jo'])).toEqual(['job'])
    expect(await complete(r.stdout, ['qactivity', 'job', 'st'])).toEqual(['start', 'stats'])
    expect(await complete(r.stdout, ['qactivity', 'job', 'stats', '--t'])).toEqual(['--top'])
    expect(await complete(r.stdout, ['qactivity', 'collect', '--'])).toEqual(['--cluster', '--help', '--once'])
    // every flag the parser accepts is offered
    const startFlags = Object.keys(JOB_SUBCOMMANDS.start.options)
      .map((o) => `--${o}`)
      .sort()
    expect(await complete(r.stdout, ['qactivity', 'job', 'start', '--'])).toEqual(startFlags)
    // a flag's value is left to bash's file name completion
    expect(await complete(r.stdout, ['qactivity', 'job', 'report', '--pdf', ''])).toEqual([])
  })

  it('completion without bash is a usage error', async () => {
    for (const args of [['completion'], ['completion', 'zsh']]) {
      const r = await qactivity(...args)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(/^qactivity: completion: .*\n$/)
    }
  })
})
