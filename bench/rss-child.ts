// Run by bench/collector.ts in a fresh process: the collector's modules loaded, then 1M ids resolved
// into the real PathResolver cache, 10k per cycle, with ids and paths parsed from JSON as the Qumulo
// client produces them. Prints RSS right after filling and after 3 s idle (V8 returns freed pages).
import { PathResolver } from '../collector/resolver.ts'
import '../collector/index.ts'
import '../qumulo/client.ts'
import '../lib/influx/writer.ts'

const ENTRIES = 1_000_000
const STEP = 10_000
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T
const pathOf = (n: number) => `/render/show${n % 7}/shot${String(n % 1000).padStart(4, '0')}/frames/f${String(n).padStart(7, '0')}.exr`

gc()
const baseline = process.memoryUsage().rss
const resolver = new PathResolver(
  { resolve: async (ids) => new Map(viaJson(ids.map((id) => [id, pathOf(Number(id.slice(-7)))] as [string, string]))) },
  ENTRIES,
  3_600_000,
  4,
)
for (let i = 0; i < ENTRIES; i += STEP) {
  await resolver.resolveAll(viaJson(Array.from({ length: STEP }, (_, k) => '131072291465916581' + String(i + k).padStart(12, '0'))))
}
gc()
const peak = process.memoryUsage().rss
await new Promise((r) => setTimeout(r, 3000))
gc()
const m = process.memoryUsage()
if (resolver.size !== ENTRIES) throw new Error(`cache holds ${resolver.size}`)
process.stdout.write(JSON.stringify({ baseline, peak, rss: m.rss, heapUsed: m.heapUsed, entries: resolver.size }))
