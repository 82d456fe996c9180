import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { buildDashboards, dashboardJson } from '../../../dashboards/index.ts'
import { DATASOURCE, GRAFANA_VERSION } from '../../../dashboards/target.ts'
import { SCHEMA } from '../../../lib/schema.ts'
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
  it('are the three dashboards in both flavours, with unique uids', () => {
    expect(files.map((f) => f.file).sort()).toEqual(['flux/cluster.json', 'flux/compare.json', 'flux/job.json', 'influxql/cluster.json', 'influxql/compare.json', 'influxql/job.json'])
    expect(new Set(files.map((f) => f.dashboard.uid)).size).toBe(6)
  })

  it("name datasources provisioned by provisioning/datasources/influxdb.yaml, with the flavour's query language", () => {
    const provisioned = (parse(readFileSync(join(ROOT, 'provisioning/datasources/influxdb.yaml'), 'utf8')) as { datasources: Array<{ uid: string; type: string; jsonData: { version: string } }> }).datasources
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
    for (const f of files) for (const p of f.dashboard.panels ?? []) expect((p as { pluginVersion?: string }).pluginVersion, `${f.file} ${(p as { title?: string }).title}`).toBe(GRAFANA_VERSION)
  })

  it('are committed as generated (run `qactivity dashboards` after changing dashboards/)', () => {
    for (const f of files) expect(readFileSync(join(ROOT, 'provisioning/dashboards', f.file), 'utf8'), f.file).toBe(dashboardJson(f.dashboard))
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
        const texts = [JSON.stringify(d.panels), JSON.stringify(d.annotations), JSON.stringify(d.links), JSON.stringify((d.templating?.list ?? []).map((v) => v.query))]
        for (const name of texts.flatMap(variablesIn)) expect(defined.has(name) || BUILTIN.has(name), `$${name}`).toBe(true)
      })

      it('names only measurements, tags and fields of the schema module', () => {
        for (const p of panels) {
          for (const t of p.targets ?? []) {
            if (f.flavour === 'influxql') {
              const aliases = new Set([...t.query.matchAll(/ AS "([^"]+)"/g)].map((m) => m[1]))
              for (const [, from] of t.query.matchAll(/FROM "([^"]+)"/g)) expect(measurements.has(from), `${p.title}: ${from}`).toBe(true)
              for (const [, name] of t.query.matchAll(/"([^"]+)"/g)) expect(measurements.has(name) || schemaNames.has(name) || aliases.has(name), `${p.title}: "${name}"`).toBe(true)
            } else {
              for (const [, m] of t.query.matchAll(/r\._measurement == "([^"]+)"/g)) expect(measurements.has(m), `${p.title}: ${m}`).toBe(true)
              for (const [, field] of t.query.matchAll(/r\._field == "([^"]+)"/g)) expect(schemaNames.has(field), `${p.title}: ${field}`).toBe(true)
              for (const [, tag] of t.query.matchAll(/\br\.(\w+) (?:==|=~)/g)) expect(tag.startsWith('_') || schemaNames.has(tag), `${p.title}: r.${tag}`).toBe(true)
            }
          }
        }
      })

      it('shows the job annotations by their tags', () => {
        const list = (d.annotations?.list ?? []) as Array<{ datasource?: { uid?: string }; target?: { type?: string; tags?: string[] }; placement?: string }>
        const tags = list.map((a) => a.target?.tags)
        expect(list.every((a) => a.datasource?.uid === '-- Grafana --' && a.target?.type === 'tags' && a.placement === undefined)).toBe(true)
        expect(tags).toEqual(f.file.endsWith('job.json') ? [['qactivity', 'job:${job}']] : [['qactivity']])
      })

      if (f.flavour === 'flux') {
        it('has only Flux that flux-lsp-node accepts, variables substituted', () => {
          const vars = { bucket: 'qactivity', poll: '60', cluster: 'sim', client: '.*', path: '.*', job: 'job-1', jobs: '(a|b)' }
          const queries = [...panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.query])), ...(d.templating?.list ?? []).filter((v) => v.type === 'query').map((v) => [`variable ${v.name}`, String(v.query)])]
          for (const [title, q] of queries) expect(validateFlux(substituteFlux(q, vars)), title).toEqual([])
        })
      }
    })
  }
})
