import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { buildDashboards, dashboardJson } from '../../../dashboards/index.ts'
import { DATASOURCE, GRAFANA_VERSION } from '../../../dashboards/target.ts'
import { RETENTION_POLICY, SCHEMA, retentionPolicyOf } from '../../../lib/schema.ts'
import { validateFlux } from '../../../stats/flux.ts'
import { panelsOf, substituteFlux } from '../../support/dashboards.ts'

const files = buildDashboards()
const ROOT = join(import.meta.dirname, '../../..')
/** Grafana's own variables and the InfluxQL alias patterns the queries may use. */
const BUILTIN = new Set(['timeFilter', '__interval', '__data', '__url_time_range', 'col', '__from', '__to'])
const measurements = new Set(Object.keys(SCHEMA))
const schemaNames = new Set(Object.values(SCHEMA).flatMap((m) => [...m.tags, ...m.fields]))

/** Every variable reference in a text: `$name`, `${name}`, `${name:format}`, `${__data.fields[...]}`. */
function variablesIn(text: string): string[] {
  return [...text.matchAll(/\$\{([\w]+)[^}]*\}|\$([A-Za-z_]\w*)/g)].map((m) => (m[1] ?? m[2]).replace(/^tag_.*/, 'col'))
}

describe('generated dashboards', () => {
  it('are the four dashboards in both flavours, with unique uids', () => {
    expect(files.map((f) => f.file).sort()).toEqual([
      'flux/cluster.json',
      'flux/compare.json',
      'flux/job.json',
      'flux/usage.json',
      'influxql/cluster.json',
      'influxql/compare.json',
      'influxql/job.json',
      'influxql/usage.json',
    ])
    expect(new Set(files.map((f) => f.dashboard.uid)).size).toBe(8)
  })

  it("name datasources provisioned by provisioning/datasources/influxdb.yaml, with the flavour's query language", () => {
    const provisioned = (
      parse(readFileSync(join(ROOT, 'provisioning/datasources/influxdb.yaml'), 'utf8')) as {
        datasources: Array<{ uid: string; type: string; jsonData: { version: string } }>
      }
    ).datasources
    for (const [flavour, ref] of Object.entries(DATASOURCE)) {
      const ds = provisioned.find((d) => d.uid === ref.uid)
      expect(ds, ref.uid).toBeDefined()
      expect(ds!.type).toBe(ref.type)
      expect(ds!.jsonData.version).toBe(flavour === 'flux' ? 'Flux' : 'InfluxQL')
    }
  })

  it('are written for the Grafana release docker-compose.yml runs (every panel says so: no migrations on load)', () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: { grafana: { image: string } } }
    expect(compose.services.grafana.image).toBe(`grafana/grafana:${GRAFANA_VERSION}`)
    for (const f of files)
      for (const p of f.dashboard.panels ?? [])
        expect((p as { pluginVersion?: string }).pluginVersion, `${f.file} ${(p as { title?: string }).title}`).toBe(GRAFANA_VERSION)
  })

  it('are committed as generated (run `qactivity dashboards` after changing dashboards/)', () => {
    for (const f of files)
      expect(readFileSync(join(ROOT, 'provisioning/dashboards', f.file), 'utf8'), f.file).toBe(dashboardJson(f.dashboard))
  })

  it('select several clusters (multi-select with All), and the job dashboard shows its cluster', () => {
    for (const f of files.filter((x) => x.file.endsWith('/cluster.json'))) {
      const v = (f.dashboard.templating?.list ?? []).find((x) => x.name === 'cluster')!
      expect([v.multi, v.includeAll, v.allValue], f.file).toEqual([true, true, '.*'])
      // A link keeps every selected cluster.
      expect(JSON.stringify(f.dashboard.panels), f.file).toContain('${cluster:queryparam}')
    }
    for (const f of files.filter((x) => x.file.endsWith('/job.json'))) {
      const job = panelsOf(f.dashboard).find((p) => p.title === 'Job')!
      expect(JSON.stringify(job.targets), f.file).toMatch(/"cluster"|\\"cluster\\"/)
    }
  })

  for (const f of files) {
    describe(f.file, () => {
      const d = f.dashboard
      const panels = panelsOf(d)
      const defined = new Set((d.templating?.list ?? []).map((v) => v.name))

      it('has unique panel ids, a description and a unit on every panel, and panels inside the 24-column grid', () => {
        expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
        for (const p of panels) {
          expect(p.description, p.title).toBeTruthy()
          expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy()
        }
        for (const p of d.panels ?? []) expect(p.gridPos!.x + p.gridPos!.w).toBeLessThanOrEqual(24)
      })

      it("queries only its flavour's provisioned datasource", () => {
        for (const p of panels) {
          expect(p.datasource, p.title).toEqual(DATASOURCE[f.flavour])
          for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual(DATASOURCE[f.flavour])
        }
        for (const v of d.templating?.list ?? []) if (v.type === 'query') expect(v.datasource).toEqual(DATASOURCE[f.flavour])
      })

      it('defines every variable it uses (queries, links, annotations)', () => {
        const texts = [
          JSON.stringify(d.panels),
          JSON.stringify(d.annotations),
          JSON.stringify(d.links),
          JSON.stringify((d.templating?.list ?? []).map((v) => v.query)),
        ]
        for (const name of texts.flatMap(variablesIn)) expect(defined.has(name) || BUILTIN.has(name), `$${name}`).toBe(true)
      })

      it('names only measurements, tags and fields of the schema module', () => {
        for (const p of panels) {
          for (const t of p.targets ?? []) {
            if (f.flavour === 'influxql') {
              const aliases = new Set([...t.query.matchAll(/ AS "([^"]+)"/g)].map((m) => m[1]))
              // FROM "m", or "rp"."m" where the measurement is kept in a retention policy of its own
              for (const [, rp, from] of t.query.matchAll(/FROM (?:"([^"]+)"\.)?"([^"]+)"/g)) {
                expect(measurements.has(from), `${p.title}: ${from}`).toBe(true)
                expect(rp, `${p.title}: ${from} read from ${rp ?? 'the default policy'}`).toBe(retentionPolicyOf(from))
              }
              const policies = new Set<string>(Object.values(RETENTION_POLICY))
              for (const [, name] of t.query.matchAll(/"([^"]+)"/g))
                expect(
                  measurements.has(name) || schemaNames.has(name) || aliases.has(name) || policies.has(name),
                  `${p.title}: "${name}"`,
                ).toBe(true)
            } else {
              for (const [, m] of t.query.matchAll(/r\._measurement == "([^"]+)"/g))
                expect(measurements.has(m), `${p.title}: ${m}`).toBe(true)
              for (const [, field] of t.query.matchAll(/r\._field == "([^"]+)"/g))
                expect(schemaNames.has(field), `${p.title}: ${field}`).toBe(true)
              for (const [, tag] of t.query.matchAll(/\br\.(\w+) (?:==|=~)/g))
                expect(tag.startsWith('_') || schemaNames.has(tag), `${p.title}: r.${tag}`).toBe(true)
            }
          }
        }
      })

      it('shows the job annotations by their tags', () => {
        const list = (d.annotations?.list ?? []) as Array<{
          datasource?: { uid?: string }
          target?: { type?: string; tags?: string[] }
          placement?: string
        }>
        const tags = list.map((a) => a.target?.tags)
        expect(list.every((a) => a.datasource?.uid === '-- Grafana --' && a.target?.type === 'tags' && a.placement === undefined)).toBe(
          true,
        )
        expect(tags).toEqual(f.file.endsWith('job.json') ? [['qactivity', 'job:${job}']] : [['qactivity']])
      })

      if (f.flavour === 'flux') {
        it('has only Flux that flux-lsp-node accepts, variables substituted', () => {
          const vars = {
            bucket: 'qactivity',
            poll: '60',
            rollup: '3600',
            cluster: 'sim',
            client: '.*',
            path: '.*',
            job: 'job-1',
            jobs: '(a|b)',
          }
          const queries = [
            ...panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.query])),
            ...(d.templating?.list ?? []).filter((v) => v.type === 'query').map((v) => [`variable ${v.name}`, String(v.query)]),
          ]
          for (const [title, q] of queries) expect(validateFlux(substituteFlux(q, vars)), title).toEqual([])
        })
      }
    })
  }
})

/** Grafana's variable regex (`/…/flags`) applied to one option as Grafana does: named groups `text` and `value`. */
function pick(regex: string, option: string): { text: string; value: string } | undefined {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(regex)!
  const groups = new RegExp(m[1], m[2]).exec(option)?.groups
  return groups ? { text: groups.text, value: groups.value } : undefined
}

describe('what a first reader trips over (issue #11)', () => {
  const jobVariables = files.flatMap((f) =>
    (f.dashboard.templating?.list ?? []).filter((v) => v.name === 'job' || v.name === 'jobs').map((v) => ({ f, v })),
  )

  it('shows each job in the pickers by its name with its ID, the ID staying the value', () => {
    expect(jobVariables).toHaveLength(4)
    for (const { f, v } of jobVariables) {
      // what each language's query yields for one job: InfluxQL a series key (tags in key order), Flux `name (id)`
      const option =
        f.flavour === 'influxql'
          ? 'qactivity_job,cluster=prod-a,job_id=01JDZ8W2Q3R4S5T6V7W8X9Y0ZA,job_name=render-sq010'
          : 'render-sq010 (01JDZ8W2Q3R4S5T6V7W8X9Y0ZA)'
      const picked = pick(String(v.regex), option)
      expect(picked?.value, `${f.file} ${v.name}`).toBe('01JDZ8W2Q3R4S5T6V7W8X9Y0ZA')
      expect(picked?.text).toContain('render-sq010')
      expect(picked?.text).toContain('01JDZ8W2Q3R4S5T6V7W8X9Y0ZA')
    }
    // a job tied to no cluster has no cluster tag in its key
    const influxql = jobVariables.find(({ f }) => f.flavour === 'influxql')!.v
    expect(pick(String(influxql.regex), 'qactivity_job,job_id=j1,job_name=render')?.value).toBe('j1')
  })

  it("cite the repository's README, never interface.md", () => {
    for (const f of files) {
      const text = JSON.stringify(f.dashboard)
      expect(text, f.file).not.toMatch(/interface\.md|§/)
    }
    const job = files.find((f) => f.file === 'influxql/job.json')!
    expect(panelsOf(job.dashboard).find((p) => p.title === 'Total operations')!.description).toContain('README, "What the numbers mean"')
  })

  it('opens a job from the cluster dashboard over its own window: to its end, or to now while it runs', () => {
    for (const f of files.filter((x) => x.file.endsWith('/cluster.json'))) {
      const jobs = panelsOf(f.dashboard).find((p) => p.title === 'Jobs in this time range')!
      const urls = JSON.stringify(jobs.fieldConfig?.overrides)
      expect(urls, f.file).toContain('&to=${__data.fields[\\"ended_at\\"].numeric}')
      expect(urls).toContain('Open the job over its window (completed)')
    }
  })

  it("defines a mean as total ÷ window, as the stats, the CLI and the report do: the summary's means", () => {
    for (const f of files.filter((x) => x.file.endsWith('/job.json'))) {
      for (const [title, fields] of [
        ['Mean IOPS', ['iops_read_mean', 'metadata_iops_write_mean']],
        ['Mean throughput', ['throughput_read_mean', 'throughput_write_mean']],
      ] as const) {
        const p = panelsOf(f.dashboard).find((x) => x.title === title)!
        expect(p.description, `${f.file} ${title}`).toContain('Total ÷ window seconds')
        const q = p.targets![0].query
        expect(q).toContain('qactivity_job_summary')
        for (const field of fields) expect(q).toContain(field)
      }
    }
  })

  it('shows per-second means beside totals and the cluster of each compared job', () => {
    for (const f of files.filter((x) => x.file.endsWith('/compare.json'))) {
      const q = panelsOf(f.dashboard).find((p) => p.title === 'Totals and change against the previous run')!.targets![0].query
      expect(q, f.file).toMatch(/iops_read_total.*iops_read_mean/)
      expect(q).toContain('cluster')
    }
  })
})
