import { SlurmOutputError } from './records.ts'

/** Most names one hostlist may expand to: a typo such as `n[1-99999999]` must not exhaust memory. */
const MAX_HOSTS = 100_000

/** The top-level comma-separated items of a hostlist (commas inside brackets separate ranges). */
function items(list: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    if (c === '[') depth++
    else if (c === ']') depth--
    else if (c === ',' && depth === 0) {
      out.push(list.slice(start, i))
      start = i + 1
    }
    if (depth < 0 || depth > 1) throw new SlurmOutputError(`hostlist "${list}": unbalanced brackets`)
  }
  if (depth !== 0) throw new SlurmOutputError(`hostlist "${list}": unbalanced brackets`)
  out.push(list.slice(start))
  return out.filter((x) => x !== '')
}

/** `01-04,7` → ['01', '02', '03', '04', '7']: a range keeps the width of its first bound. */
function ranges(list: string, spec: string): string[] {
  const out: string[] = []
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (!m) throw new SlurmOutputError(`hostlist "${list}": "${part}" is not a number or a range`)
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])]
    if (to < from) throw new SlurmOutputError(`hostlist "${list}": range ${part} runs backwards`)
    if (to - from + out.length >= MAX_HOSTS) throw new SlurmOutputError(`hostlist "${list}": more than ${MAX_HOSTS} hosts`)
    for (let n = from; n <= to; n++) out.push(String(n).padStart(m[1].length, '0'))
  }
  return out
}

/**
 * The host names of a Slurm hostlist, in Slurm's order: `node[01-03,7],login1` → node01, node02,
 * node03, node7, login1 (what `scontrol show hostnames` prints). Several bracket groups in one name
 * (`r[1-2]n[1-2]`) expand to every combination, the last group varying fastest; like Slurm, nothing
 * may follow the last group (`gpu[1-2]-ib` is refused).
 */
export function expandHostlist(list: string): string[] {
  const out: string[] = []
  for (const item of items(list.trim())) {
    // As Slurm: `gpu[1-2]-ib` is not a hostlist (nothing may follow the last range).
    if (item.includes(']') && !item.endsWith(']')) throw new SlurmOutputError(`hostlist "${list}": text after the last range`)
    let names = ['']
    for (const m of item.matchAll(/([^[\]]*)(?:\[([^\]]*)\])?/g)) {
      if (m[0] === '') continue
      const [, text, spec] = m
      const suffixes = spec === undefined ? [''] : ranges(list, spec)
      names = names.flatMap((n) => suffixes.map((s) => n + text + s))
      if (names.length + out.length > MAX_HOSTS) throw new SlurmOutputError(`hostlist "${list}": more than ${MAX_HOSTS} hosts`)
    }
    out.push(...names)
  }
  return out
}
