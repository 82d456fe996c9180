import ipaddr from 'ipaddr.js'
import { canonicalAddress } from '../lib/addresses.ts'
import { jobActivityLine, secondsInWindow, type JobScope } from '../lib/job-scope.ts'
import { escapeKey } from '../lib/influx/line-protocol.ts'
import { ACTIVITY_FIELDS, MEASUREMENT } from '../lib/schema.ts'
import type { ActivitySeries } from './activity.ts'

/** A node of the path trie: the jobs whose path ends here, and the components below. */
interface PathNode {
  jobs: number[]
  children: Map<string, PathNode>
}

/**
 * The jobs a collector attributes a poll's activity to, indexed for the (client, path) series of a
 * poll: exact addresses in a map, CIDRs in one map per prefix length (a lookup masks the address once
 * per length in use), paths in a trie of components. 10,000 jobs index in milliseconds and a series
 * is matched in a few map lookups, whatever the number of jobs; the answer per client and per path is
 * memoised for the index's life (one poll).
 */
export class JobIndex {
  readonly jobs: readonly JobScope[]
  private readonly exact = new Map<string, number[]>()
  /** prefix length → masked network (hex bytes) → jobs; one map per address family */
  private readonly nets: Record<'ipv4' | 'ipv6', Map<number, Map<string, number[]>>> = { ipv4: new Map(), ipv6: new Map() }
  private readonly root: PathNode = { jobs: [], children: new Map() }
  private readonly byClient = new Map<string, readonly number[]>()
  private readonly byPath = new Map<string, readonly number[]>()

  constructor(jobs: readonly JobScope[]) {
    this.jobs = jobs
    jobs.forEach((job, i) => {
      for (const c of job.clients) {
        const slash = c.indexOf('/')
        if (slash < 0) {
          const a = canonicalAddress(c)
          if (a) push(this.exact, a, i)
          continue
        }
        if (!ipaddr.isValidCIDR(c)) continue
        const [net, bits] = ipaddr.parseCIDR(c)
        const byLength = this.nets[net.kind()]
        let m = byLength.get(bits)
        if (!m) byLength.set(bits, (m = new Map()))
        push(m, masked(net.toByteArray(), bits), i)
      }
      for (const p of job.paths) this.node(p).jobs.push(i)
    })
  }

  /** Indexes (into {@link jobs}) of the jobs a series belongs to: its client or its path matches; each once. */
  match(clientIp: string, path: string): number[] {
    const a = this.clientJobs(clientIp)
    const b = this.pathJobs(path)
    if (!a.length) return b as number[]
    if (!b.length) return a as number[]
    return [...new Set([...a, ...b])]
  }

  private clientJobs(ip: string): readonly number[] {
    let out = this.byClient.get(ip)
    if (out) return out
    const found: number[] = []
    const a = canonicalAddress(ip)
    if (a) {
      found.push(...(this.exact.get(a) ?? []))
      const addr = ipaddr.parse(a)
      const bytes = addr.toByteArray()
      for (const [bits, m] of this.nets[addr.kind()]) found.push(...(m.get(masked(bytes, bits)) ?? []))
    }
    out = found.length > 1 ? [...new Set(found)] : found
    this.byClient.set(ip, out)
    return out
  }

  private pathJobs(path: string): readonly number[] {
    let out = this.byPath.get(path)
    if (out) return out
    // `/` takes every path tag starting with `/`, not `(unresolved)`: as the raw-point queries of a backfill do.
    const found: number[] = path.startsWith('/') ? [...this.root.jobs] : []
    if (path.startsWith('/')) {
      let node: PathNode | undefined = this.root
      for (const part of path.split('/')) {
        if (part === '') continue
        node = node.children.get(part)
        if (!node) break
        found.push(...node.jobs)
      }
    }
    out = found.length > 1 ? [...new Set(found)] : found
    this.byPath.set(path, out)
    return out
  }

  private node(path: string): PathNode {
    let node = this.root
    for (const part of path.split('/')) {
      if (part === '') continue
      let next = node.children.get(part)
      if (!next) node.children.set(part, (next = { jobs: [], children: new Map() }))
      node = next
    }
    return node
  }
}

function push(m: Map<string, number[]>, key: string, i: number): void {
  const list = m.get(key)
  if (list) list.push(i)
  else m.set(key, [i])
}

/** The first `bits` bits of an address, as hex: the key of its network. */
function masked(bytes: number[], bits: number): string {
  let out = ''
  for (let i = 0; i < bytes.length && bits > 0; i++, bits -= 8) {
    const b = bits >= 8 ? bytes[i] : bytes[i] & ((0xff << (8 - bits)) & 0xff)
    out += b.toString(16).padStart(2, '0')
  }
  return out
}

/**
 * `qactivity_job_activity` lines of one poll ({@link jobActivityLine}): a series for every job it
 * belongs to (its client or its path matches: once per job, and once for each of several jobs). The
 * `cluster` tag is the collector's: a job of every cluster (`""`) gets one series per cluster.
 *
 * The same text as {@link jobActivityLine} (a test holds them equal), assembled from parts escaped
 * once per series and once per job: 10,000 jobs make ~75k lines a poll, and the per-line tag and
 * field objects were most of the cycle's garbage.
 */
export function jobActivityLines(
  series: readonly ActivitySeries[],
  index: JobIndex,
  cluster: string,
  timeS: number,
  intervalS: number,
): string[] {
  if (!index.jobs.length) return []
  const out: string[] = []
  const ms = Math.round(timeS * 1000)
  const clusterTag = cluster ? `,cluster=${escapeKey(cluster)}` : ''
  const jobParts = index.jobs.map((j) => {
    const seconds = secondsInWindow(timeS, intervalS, j)
    const tags = `${clusterTag},job_id=${escapeKey(j.id)}${j.name ? `,job_name=${escapeKey(j.name)}` : ''}`
    return { seconds, tags, tail: `,seconds=${seconds},elapsed_seconds=${timeS - j.startMs / 1000} ${ms}` }
  })
  for (const s of series) {
    const jobs = index.match(s.clientIp, s.path)
    if (!jobs.length) continue
    if (!s.rates.every(Number.isFinite) || !Number.isSafeInteger(ms)) {
      for (const i of jobs)
        if (jobParts[i].seconds > 0)
          out.push(jobActivityLine(index.jobs[i], cluster, s.clientIp, s.path, s.rates, jobParts[i].seconds, timeS))
      continue
    }
    const head = `${MEASUREMENT.jobActivity}${s.clientIp ? `,client_ip=${escapeKey(s.clientIp)}` : ''}`
    const path = s.path ? `,path=${escapeKey(s.path)}` : ''
    const rates = ' ' + ACTIVITY_FIELDS.map((f, k) => `${f}=${s.rates[k]}`).join(',')
    for (const i of jobs) {
      const p = jobParts[i]
      if (p.seconds > 0) out.push(head + p.tags + path + rates + p.tail)
    }
  }
  return out
}
