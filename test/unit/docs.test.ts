import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

const read = (f: string) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8')
const VAR = /\b(?:QUMULO|INFLUX|QACTIVITY|GRAFANA|SMTP|SLURM)_[A-Z_]+\b/g

describe('documentation stays true to the code', () => {
  it('no tracked file holds a merge-conflict marker, and none cites documents outside the repository', () => {
    const root = new URL('../../', import.meta.url).pathname
    const files = execFileSync(
      'git',
      ['ls-files', '*.ts', '*.md', '*.json', '*.yml', '*.yaml', '*.sh', '*.mjs', 'Dockerfile', '.env.example'],
      { cwd: root, encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean)
    const conflicts = files.filter((f) => /^(<{7}|>{7}) /m.test(read(f)))
    expect(conflicts).toEqual([])
    const outside = files.filter(
      (f) => !f.startsWith('docs/') && !f.startsWith('test/') && /\.\.\/shared|(?<![\w/.-])(interface\.md|qumulo\/api\.md)/.test(read(f)),
    )
    expect(outside).toEqual([])
  })

  it('no line of a tracked .ts or .mjs file is longer than 140 characters (Prettier cannot break strings or comments)', () => {
    const root = new URL('../../', import.meta.url).pathname
    const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean)
    const tooLong = files.flatMap((f) =>
      read(f)
        .split('\n')
        .flatMap((line, i) => ([...line].length > 140 ? [`${f}:${i + 1}`] : [])),
    )
    expect(tooLong).toEqual([])
  })

  const inCode = new Set(read('lib/config.ts').match(VAR))

  it('the README configuration table lists exactly the variables lib/config.ts reads', () => {
    const section = read('README.md').split('## Configuration')[1].split('\n## ')[0]
    const rows = new Set([...section.matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1]))
    expect([...rows].sort()).toEqual([...inCode].sort())
  })

  it('.env.example sets every variable lib/config.ts reads, plus only those docker-compose.yml needs', () => {
    const names = new Set([...read('.env.example').matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]))
    for (const v of inCode) expect(names, v).toContain(v)
    const compose = read('docker-compose.yml')
    for (const v of names) if (!inCode.has(v)) expect(compose, v).toContain('${' + v)
  })

  it('the README metrics table names every measurement and field of lib/schema.ts', async () => {
    const { SCHEMA } = await import('../../lib/schema.ts')
    const metrics = read('README.md').split('## Metrics')[1].split('\n## ')[0]
    for (const [measurement, { tags, fields }] of Object.entries(SCHEMA)) {
      const row = metrics.split('\n').find((l) => l.startsWith(`| \`${measurement}\``))
      expect(row, measurement).toBeDefined()
      for (const name of [...tags, ...fields]) expect(row, `${measurement}.${name}`).toContain(`\`${name}\``)
    }
  })

  it('the README shows the tag a name ending in a backslash becomes, as the line protocol writer makes it', async () => {
    const { escapeKey } = await import('../../lib/influx/line-protocol.ts')
    const metrics = read('README.md').split('## Metrics')[1].split('\n## ')[0]
    expect(metrics).toContain('A job named `render\\` has the tag `job_name=' + escapeKey('render\\') + '`')
  })
})
