import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import type * as Yaml from 'yaml'
import type * as Zod from 'zod'
import type { QumuloConfig } from './config.ts'
import { issuesText } from './zod-text.ts'
import { messageOf } from './errors.ts'

// zod and yaml take 100-300 ms to load, which every CLI call (a Slurm prolog's `job start`) would
// pay through lib/config.ts; only a clusters file needs them, so they load when one is read.
const load = createRequire(import.meta.url)

/**
 * `QACTIVITY_CLUSTERS_FILE`: the Qumulo clusters `serve` polls, one entry per cluster (README,
 * "Several clusters"). YAML, so JSON works too. Relative `tokenFile` and `caFile` are read from the
 * clusters file's directory. Secrets never appear in the problems reported.
 */

/** Value of the `cluster` tag: what dashboards show and jobs name. */
export const CLUSTER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/
const CLUSTER_NAME_RULE = '1–64 characters of A–Z a–z 0–9 . _ : - starting with a letter or digit'

function entrySchema() {
  const { z } = load('zod') as typeof Zod
  return z.strictObject({
    name: z.string().regex(CLUSTER_NAME_RE, `must be ${CLUSTER_NAME_RULE}`),
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    token: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    caFile: z.string().min(1).optional(),
    insecureTls: z.boolean().optional(),
    timeoutSeconds: z.int().min(1).max(600).optional(),
  })
}

type Entry = Zod.infer<ReturnType<typeof entrySchema>>

/** How an entry logs in: exactly one of token, tokenFile, username + password. */
function authProblem(e: Entry): string | undefined {
  const ways = [e.token !== undefined, e.tokenFile !== undefined, e.username !== undefined || e.password !== undefined].filter(
    Boolean,
  ).length
  if (ways !== 1) return 'give exactly one of token, tokenFile, or username + password'
  if ((e.username === undefined) !== (e.password === undefined)) return 'username and password go together'
  return undefined
}

/**
 * Reads and validates the clusters file; every problem is pushed to `problems` as one line naming
 * the entry, and the valid entries are returned.
 */
export function readClustersFile(file: string, timeoutMsDefault: number, problems: string[]): QumuloConfig[] {
  const at = (where: string, what: string) => problems.push(`QACTIVITY_CLUSTERS_FILE: ${where}${what}`)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    at('', `cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    return []
  }
  let doc: unknown
  try {
    doc = (load('yaml') as typeof Yaml).parse(text)
  } catch (err) {
    at('', `"${file}" is not valid YAML or JSON (${messageOf(err).split('\n')[0]})`)
    return []
  }
  if (!Array.isArray(doc) || doc.length === 0) {
    at('', `"${file}" must hold a non-empty list of clusters ({name, url, token | tokenFile | username + password, caFile?, insecureTls?})`)
    return []
  }
  const dir = dirname(resolve(file))
  const out: QumuloConfig[] = []
  const seen = new Set<string>()
  const schema = entrySchema()
  doc.forEach((raw: unknown, i) => {
    const name =
      raw && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: string }).name : undefined
    const label = `clusters[${i}]${name === undefined ? '' : ` ("${name.slice(0, 64)}")`}: `
    if (name !== undefined && seen.has(name)) return void at(label, `duplicate name "${name}"`)
    if (name !== undefined) seen.add(name)
    const parsed = schema.safeParse(raw)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      at(label, issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')}` : issuesText(parsed.error))
      return
    }
    const e = parsed.data
    const auth = authProblem(e)
    if (auth) return void at(label, auth)
    let token = e.token
    if (e.tokenFile) {
      const path = resolve(dir, e.tokenFile)
      try {
        token = readFileSync(path, 'utf8').trim()
      } catch (err) {
        return void at(label, `tokenFile "${path}" cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
      if (!token) return void at(label, `tokenFile "${path}" is empty`)
    }
    const caFile = e.caFile ? resolve(dir, e.caFile) : undefined
    if (caFile && !existsSync(caFile)) return void at(label, `caFile: no such file "${caFile}"`)
    out.push({
      url: e.url.replace(/\/+$/, ''),
      token,
      username: e.username,
      password: e.password,
      caFile,
      insecureTls: e.insecureTls ?? false,
      cluster: e.name,
      timeoutMs: (e.timeoutSeconds ?? 0) * 1000 || timeoutMsDefault,
    })
  })
  return out
}

/** Why a `QUMULO_CLUSTER` value cannot be a tag value, or undefined when it can. */
export function clusterNameProblem(name: string): string | undefined {
  return CLUSTER_NAME_RE.test(name) ? undefined : `must be ${CLUSTER_NAME_RULE}, got "${name.slice(0, 80)}"`
}
