import { describe, expect, it } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../lib/config.ts'
import { ConfigError } from '../../../lib/errors.ts'

function file(text: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'qa-clusters-'))
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content)
  writeFileSync(join(dir, 'clusters.yaml'), text)
  return join(dir, 'clusters.yaml')
}

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ INFLUX_URL: 'http://i:8086', ...env }, ['qumulo', 'influx'])
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('no problem reported')
}

describe('QACTIVITY_CLUSTERS_FILE', () => {
  it('reads YAML with token, tokenFile (relative to the file) and username + password', () => {
    const f = file(
      [
        '- name: a',
        '  url: https://qa.example:8000/',
        '  token: access-v1:aaa',
        '  insecureTls: true',
        '- name: b',
        '  url: http://qb:8000',
        '  tokenFile: b.token',
        '  timeoutSeconds: 5',
        '- name: c',
        '  url: https://qc',
        '  username: u',
        '  password: p',
        '  caFile: ca.pem',
      ].join('\n'),
      { 'b.token': 'access-v1:bbb\n', 'ca.pem': 'PEM' },
    )
    const c = loadConfig({ QACTIVITY_CLUSTERS_FILE: f, INFLUX_URL: 'http://i:8086' }, ['qumulo', 'influx'])
    expect(c.clusterNames).toEqual(['a', 'b', 'c'])
    expect(c.clusters[0]).toMatchObject({
      cluster: 'a',
      url: 'https://qa.example:8000',
      token: 'access-v1:aaa',
      insecureTls: true,
      timeoutMs: 30_000,
    })
    expect(c.clusters[1]).toMatchObject({ cluster: 'b', token: 'access-v1:bbb', timeoutMs: 5000 })
    expect(c.clusters[2]).toMatchObject({ cluster: 'c', username: 'u', password: 'p', caFile: join(f, '..', 'ca.pem') })
  })

  it('reads JSON too', () => {
    const f = file(JSON.stringify([{ name: 'only', url: 'http://q:8000', token: 'access-v1:x' }]))
    expect(loadConfig({ QACTIVITY_CLUSTERS_FILE: f }).clusterNames).toEqual(['only'])
  })

  it('names the entry and the problem, never a secret', () => {
    const f = file(
      [
        '- name: a',
        '  url: ftp://x',
        '  token: access-v1:secret1',
        '- name: b',
        '  url: http://b',
        '- name: c',
        '  url: http://c',
        '  token: access-v1:secret2',
        '  password: hunter2',
        '- name: a',
        '  url: http://a2',
        '  token: access-v1:secret3',
        '- name: bad name',
        '  url: http://d',
        '  token: t',
        '- name: e',
        '  url: http://e',
        '  tokenFile: missing.token',
        '- name: f',
        '  url: http://f',
        '  token: t',
        '  colour: blue',
      ].join('\n'),
    )
    const msg = problems({ QACTIVITY_CLUSTERS_FILE: f })
    expect(msg).toContain('clusters[0] ("a"): url: must be an http:// or https:// URL')
    expect(msg).toContain('clusters[1] ("b"): give exactly one of token, tokenFile, or username + password')
    expect(msg).toContain('clusters[2] ("c"): give exactly one of token, tokenFile, or username + password')
    expect(msg).toContain('clusters[3] ("a"): duplicate name "a"')
    expect(msg).toContain('clusters[4] ("bad name"): name: must be')
    expect(msg).toMatch(/clusters\[5\] \("e"\): tokenFile ".*missing.token" cannot be read \(ENOENT\)/)
    expect(msg).toContain('clusters[6] ("f"): unknown key colour')
    expect(msg).not.toMatch(/secret|hunter2/)
    expect(msg.split('\n')).toHaveLength(1)
  })

  it('refuses a file that is not a list, cannot be read, or is set with QUMULO_URL', () => {
    expect(problems({ QACTIVITY_CLUSTERS_FILE: file('name: a\nurl: http://a') })).toContain('must hold a non-empty list of clusters')
    expect(problems({ QACTIVITY_CLUSTERS_FILE: file('- [unclosed') })).toContain('is not valid YAML or JSON')
    expect(problems({ QACTIVITY_CLUSTERS_FILE: '/nonexistent/clusters.yaml' })).toContain(
      'cannot read "/nonexistent/clusters.yaml" (ENOENT)',
    )
    const f = file('- {name: a, url: "http://a", token: t}')
    expect(problems({ QACTIVITY_CLUSTERS_FILE: f, QUMULO_URL: 'http://q' })).toContain(
      'QACTIVITY_CLUSTERS_FILE and QUMULO_URL are both set',
    )
  })

  it('without the file: one cluster from QUMULO_URL, a name alone from QUMULO_CLUSTER, or none', () => {
    expect(loadConfig({ QUMULO_URL: 'http://q.example', QUMULO_TOKEN: 't' }).clusterNames).toEqual(['q.example'])
    const nameOnly = loadConfig({ QUMULO_CLUSTER: 'prod' })
    expect([nameOnly.clusters, nameOnly.clusterNames]).toEqual([[], ['prod']])
    expect(loadConfig({}).clusterNames).toEqual([])
    expect(problems({ QUMULO_CLUSTER: 'has space', QUMULO_URL: 'http://q', QUMULO_TOKEN: 't' })).toContain('QUMULO_CLUSTER must be')
    expect(problems({})).toContain('QUMULO_URL is required (or QACTIVITY_CLUSTERS_FILE for several clusters)')
  })
})
