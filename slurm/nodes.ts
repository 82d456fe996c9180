import { lookup } from 'node:dns/promises'
import { readFileSync } from 'node:fs'
import { canonicalAddress } from '../lib/addresses.ts'
import { messageOf } from '../lib/errors.ts'

/**
 * Where a node's storage traffic comes from, as Qumulo sees it (README "Slurm"): by default the
 * node's `NodeAddr` (a name is resolved by DNS); with `QACTIVITY_SLURM_CLIENT_TEMPLATE` (`{node}-ib`)
 * the template's name resolved by DNS; with `QACTIVITY_SLURM_CLIENT_FILE` the address the file gives.
 */
export interface NodeAddressOptions {
  template?: string
  /** `node address` per line, `#` comments */
  file?: string
  /** NodeAddr of nodes (scontrol) */
  nodeAddr: (names: string[]) => Promise<Map<string, string>>
  /** @defaultValue dns.lookup */
  resolve?: (name: string) => Promise<string>
  now?: () => number
}

/** How long an answer is kept: addresses change rarely; a failure is asked again sooner. */
const KEEP_MS = 10 * 60_000
const KEEP_FAILED_MS = 60_000

/** Reads a node → address file; a line that is not `node address` with an IP address is an error naming it. */
export function readNodeFile(file: string): Map<string, string> {
  const map = new Map<string, string>()
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim()
      if (!line) return
      const [node, addr, extra] = line.split(/\s+/)
      const ip = addr ? canonicalAddress(addr) : undefined
      if (!ip || extra !== undefined)
        throw new Error(`${file}:${i + 1}: expected "node address" with an IP address, got "${line.slice(0, 80)}"`)
      map.set(node, ip)
    })
  return map
}

/** Resolves node names to client addresses, cached; `problems` names the nodes without one. */
export function nodeAddresses(o: NodeAddressOptions) {
  const fixed = o.file ? readNodeFile(o.file) : undefined
  const resolve = o.resolve ?? (async (name: string) => (await lookup(name)).address)
  const now = o.now ?? Date.now
  const cache = new Map<string, { addr?: string; error?: string; until: number }>()
  const toIp = async (name: string) => canonicalAddress(name) ?? canonicalAddress(await resolve(name))

  return async function addresses(nodes: string[]): Promise<{ clients: string[]; problems: string[] }> {
    const t = now()
    const ask = [...new Set(nodes)].filter((n) => !((cache.get(n)?.until ?? 0) > t))
    if (ask.length) {
      let nodeAddr = new Map<string, string>()
      if (!fixed && !o.template) {
        try {
          nodeAddr = await o.nodeAddr(ask)
        } catch (err) {
          for (const n of ask) cache.set(n, { error: `NodeAddr unknown (${messageOf(err)})`, until: t + KEEP_FAILED_MS })
        }
      }
      await Promise.all(
        ask
          .filter((n) => !cache.has(n) || cache.get(n)!.until <= t)
          .map(async (n) => {
            try {
              const name = fixed ? undefined : o.template ? o.template.replaceAll('{node}', n) : (nodeAddr.get(n) ?? n)
              const addr = fixed ? fixed.get(n) : await toIp(name!)
              if (!addr) throw new Error(fixed ? `not in ${o.file}` : `"${name}" is not an address`)
              cache.set(n, { addr, until: t + KEEP_MS })
            } catch (err) {
              cache.set(n, { error: messageOf(err), until: t + KEEP_FAILED_MS })
            }
          }),
      )
    }
    const clients: string[] = []
    const problems: string[] = []
    for (const n of nodes) {
      const c = cache.get(n)
      if (c?.addr) clients.push(c.addr)
      else problems.push(`node ${n}: ${c?.error ?? 'no address'}`)
    }
    return { clients: [...new Set(clients)], problems: [...new Set(problems)] }
  }
}
