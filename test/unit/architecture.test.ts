import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, normalize, relative } from 'node:path'

/**
 * Imports flow one way (README, "Layout"): `lib` ← `qumulo` ← `collector`, and `lib` ← `jobs` ←
 * `stats` ← `reports` ← `api`; `cli` assembles everything. A folder may import only from the
 * folders listed for it (and itself); tests and benchmarks may import anything.
 */
const MAY_IMPORT: Record<string, string[]> = {
  lib: [],
  qumulo: ['lib'],
  collector: ['lib', 'qumulo'],
  jobs: ['lib'],
  stats: ['lib', 'jobs'],
  reports: ['lib', 'jobs', 'stats'],
  api: ['lib', 'jobs', 'stats', 'reports'],
  dashboards: ['lib'],
  simulator: ['lib'],
  scripts: ['lib'],
  slurm: ['lib'],
  bin: ['cli', 'dist'],
  cli: ['lib', 'qumulo', 'collector', 'jobs', 'stats', 'reports', 'api', 'dashboards', 'simulator', 'slurm'],
}
const UNCHECKED = new Set(['test', 'bench', 'node_modules', 'dist', 'data', 'provisioning', 'docs', 'examples'])
const REPO = join(import.meta.dirname, '../..')

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name.startsWith('.') ? [] : sources(path)
    return /\.(ts|mjs)$/.test(name) ? [path] : []
  })
}

/** Every relative import and re-export of a file, as repository paths. */
function importsOf(file: string, ROOT: string): string[] {
  const text = readFileSync(file, 'utf8')
  const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map(
    (m) => m[1] ?? m[2],
  )
  return specs.map((s) => relative(ROOT, normalize(join(dirname(file), s))))
}

/** Every import that goes against {@link MAY_IMPORT}, as `from → to`. */
function violations(ROOT = REPO): string[] {
  const out: string[] = []
  const folders = readdirSync(ROOT).filter((n) => !n.startsWith('.') && !UNCHECKED.has(n) && statSync(join(ROOT, n)).isDirectory())
  for (const folder of folders) {
    const allowed = MAY_IMPORT[folder]
    const files = sources(join(ROOT, folder))
    if (!allowed) {
      if (files.length) out.push(`${folder}/ is not in the import order (test/unit/architecture.test.ts)`)
      continue
    }
    for (const file of files) {
      for (const target of importsOf(file, ROOT)) {
        const to = target.split('/')[0]
        if (to !== folder && !allowed.includes(to)) out.push(`${relative(ROOT, file)} → ${target}`)
      }
    }
  }
  return out
}

describe('architecture', () => {
  it('imports flow one way: lib ← qumulo ← collector; lib ← jobs ← stats ← reports ← api ← cli', () => {
    expect(violations()).toEqual([])
  })

  it('names an import against the order, and a folder outside it', () => {
    const root = mkdtempSync(join(tmpdir(), 'qa-arch-'))
    for (const dir of ['jobs', 'api', 'lib', 'extra']) mkdirSync(join(root, dir))
    writeFileSync(join(root, 'jobs/service.ts'), "import { x } from '../lib/x.ts'\nimport type { Y } from '../api/errors.ts'\n")
    writeFileSync(join(root, 'api/errors.ts'), "export { x } from '../jobs/service.ts'\n")
    writeFileSync(join(root, 'extra/a.ts'), '')
    expect(violations(root).sort()).toEqual([
      'extra/ is not in the import order (test/unit/architecture.test.ts)',
      'jobs/service.ts → api/errors.ts',
    ])
  })
})
