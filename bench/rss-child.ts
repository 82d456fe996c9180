// Run by bench/collector.ts in a fresh process: the collector's modules loaded, then 1M ids resolved
// into the real PathResolver cache with paths shaped like a render farm's; prints RSS as JSON.
import { PathResolver } from '../collector/resolver.ts'
import '../collector/index.ts'
import '../qumulo/client.ts'
import '../lib/influx/writer.ts'

const ENTRIES = 1_000_000
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
gc()
const baseline = process.memoryUsage().rss
const resolver = new PathResolver(
  {
    async resolve(ids) {
      return new Map(ids.map((id) => {
        const n = Number(id.slice(-7))
        return [id, `/render/show${n % 7}/shot${String(n % 1000).padStart(4, '0')}/frames/f${String(n).padStart(7, '0')}.exr`]
      }))
    },
  },
  ENTRIES,
  3_600_000,
  4,
)
const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => '131072291465916581' + String(from + i).padStart(12, '0'))
for (let i = 0; i < ENTRIES; i += 100_000) await resolver.resolveAll(ids(i, 100_000))
gc()
if (resolver.size !== ENTRIES) throw new Error(`cache holds ${resolver.size}`)
process.stdout.write(JSON.stringify({ baseline, rss: process.memoryUsage().rss, entries: resolver.size }))
