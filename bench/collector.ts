// `npm run bench:collector`: cycle time at 10k/100k entries (cold and warm path cache), ingest
// throughput against a raw line-protocol POST into the same influxd, and RSS with 1M cached ids.
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import { join } from 'node:path'
import { loadConfig } from '../lib/config.ts'
import { silentLogger } from '../lib/log.ts'
import { createDurableWriter } from '../lib/influx/writer.ts'
import { createQumuloClient } from '../qumulo/client.ts'
import { createCollector } from '../collector/index.ts'
import { startInfluxd } from '../test/support/influxd.ts'
import { tempDir } from '../test/support/tmp.ts'
import { printTable, row } from './table.ts'

const BIN = new URL('../bin/qactivity.mjs', import.meta.url).pathname
const RUN_TS = new URL('../bin/run-ts.mjs', import.meta.url).pathname
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The simulator in its own process, so it does not share the collector's event loop. */
async function startScaleSimulator(entries: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'simulate', '--scale', String(entries), '--port', '0', '--user', 'bench:bench'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let err = ''
    child.stderr!.on('data', (d) => {
      err += d
      const m = /(https?:\/\/[\d.:[\]a-z]+)/i.exec(err)
      if (m) resolve(m[1])
    })
    child.on('exit', (code) => reject(new Error(`simulator exited ${code}: ${err}`)))
  })
  return { url, child }
}

async function cycleBench(influxUrl: string, entries: number): Promise<void> {
  const sim = await startScaleSimulator(entries)
  try {
    const config = loadConfig(
      {
        QUMULO_URL: sim.url,
        QUMULO_USERNAME: 'bench',
        QUMULO_PASSWORD: 'bench',
        INFLUX_URL: influxUrl,
        INFLUX_BUCKET: `bench_cycle_${entries}`,
        QACTIVITY_DATA_DIR: tempDir(),
      },
      ['qumulo', 'influx'],
    )
    const writer = await createDurableWriter({
      influx: config.influx,
      dir: join(config.storage.dataDir, 'spool'),
      maxBytes: config.storage.spoolMaxBytes,
      log: silentLogger,
    })
    const t = Math.floor(Date.now() / 60_000) * 60 - 7200
    const cold: number[] = []
    const warm: number[] = []
    for (let run = 0; run < 3; run++) {
      const collector = createCollector({ config, qumulo: createQumuloClient(config.qumulo, silentLogger), writer, log: silentLogger })
      const first = await collector.runOnce(t + run * 600)
      if (!first.success || first.entries !== entries) throw new Error(`cycle failed: ${JSON.stringify(first)}`)
      cold.push(first.durationSeconds)
      for (let i = 1; i <= 2; i++) warm.push((await collector.runOnce(t + run * 600 + i * 60)).durationSeconds)
      await writer.flush()
    }
    await writer.close()
    const goal = entries >= 100_000 ? 2 : 0.5
    const k = `${entries / 1000}k`
    row(`cycle, ${k} entries, cold cache (median of 3)`, `${median(cold).toFixed(3)} s`, '—', true)
    row(`cycle, ${k} entries, warm cache (median of 6)`, `${median(warm).toFixed(3)} s`, `≤ ${goal} s`, median(warm) <= goal)
  } finally {
    sim.child.kill()
  }
}

/** One poll's points shaped like the collector's (integer counts of the 60 s window): 200 clients × 100 path tags = 20k series. */
function syntheticCycle(time: number): string[] {
  const lines: string[] = []
  for (let c = 0; c < 200; c++) {
    for (let p = 0; p < 100; p++) {
      lines.push(
        `qumulo_activity,client_ip=10.1.${c >> 4}.${c & 15},cluster=bench,path=/proj${p % 10}/dir${p} ` +
          `iops_read=${((c + p) % 7) * 60 + 15}i,iops_write=30i,metadata_iops_read=0i,` +
          `metadata_iops_write=1i,throughput_read=4096i,throughput_write=${c * p * 4096}i ${time}`,
      )
    }
  }
  return lines
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

/** The baseline: a bare keep-alive node:http POST of line protocol, no spool, no retry. */
function rawPost(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'text/plain; charset=utf-8' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function createDb(url: string, db: string) {
  await fetch(`${url}/query?q=${encodeURIComponent(`CREATE DATABASE "${db}"`)}`, { method: 'POST' })
}

async function rawRun(influxUrl: string, db: string, data: string[][]): Promise<number> {
  await createDb(influxUrl, db)
  const start = performance.now()
  for (const lines of data) {
    for (let i = 0; i < lines.length; i += 5000) {
      const status = await rawPost(`${influxUrl}/write?db=${db}&precision=s`, lines.slice(i, i + 5000).join('\n'))
      if (status !== 204) throw new Error(`raw write: ${status}`)
    }
  }
  return performance.now() - start
}

async function writerRun(influxUrl: string, db: string, data: string[][]): Promise<number> {
  const config = loadConfig({ INFLUX_URL: influxUrl, INFLUX_BUCKET: db, QACTIVITY_DATA_DIR: tempDir() }, ['influx'])
  const writer = await createDurableWriter({
    influx: config.influx,
    dir: join(config.storage.dataDir, 'spool'),
    maxBytes: 2 ** 31,
    log: silentLogger,
  })
  const start = performance.now()
  for (const lines of data) await writer.write(lines)
  await writer.flush()
  const ms = performance.now() - start
  await writer.close()
  return ms
}

async function ingestBench(influxUrl: string): Promise<void> {
  const t = Math.floor(Date.now() / 1000) - 86_400
  const data = Array.from({ length: 30 }, (_, b) => syntheticCycle(t + b * 60))
  const total = data.length * data[0].length
  const raw: number[] = []
  const ours: number[] = []
  // Alternate which goes first, so neither always pays for the other's background compaction.
  for (let round = 0; round < 4; round++) {
    const rawFirst = round % 2 === 0
    if (rawFirst) raw.push(await rawRun(influxUrl, `bench_raw_${round}`, data))
    ours.push(await writerRun(influxUrl, `bench_ours_${round}`, data))
    if (!rawFirst) raw.push(await rawRun(influxUrl, `bench_raw_${round}`, data))
  }
  const rate = (ms: number) => total / (ms / 1000)
  const ratio = rate(median(ours)) / rate(median(raw))
  row(
    `raw line-protocol POST (node:http keep-alive), ${total / 1000}k points (30 polls × 20k series), 5k per request (median of 4)`,
    `${Math.round(rate(median(raw)) / 1000)}k points/s`,
    '—',
    true,
  )
  row(
    'durable writer (spool, fsync, ordered delivery), one write() per poll (median of 4)',
    `${Math.round(rate(median(ours)) / 1000)}k points/s`,
    '—',
    true,
  )
  row('ingest throughput ratio (medians, order alternated)', `${(ratio * 100).toFixed(1)} %`, '≥ 90 %', ratio >= 0.9)
}

async function rssBench(): Promise<void> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', RUN_TS, new URL('./rss-child.ts', import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let s = ''
    child.stdout.on('data', (d) => (s += d))
    child.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`rss child exited ${code}`))))
  })
  const r = JSON.parse(out) as { baseline: number; peak: number; rss: number; heapUsed: number; entries: number }
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`
  row(
    `collector RSS with ${r.entries / 1e6}M cached ids, settled (3 s idle)`,
    `${mb(r.rss)} (heap ${mb(r.heapUsed)}, empty process ${mb(r.baseline)})`,
    '< 200 MB',
    r.rss < 200 * 2 ** 20,
  )
  row('  same, right after the last fill cycle', mb(r.peak), '—', true)
}

// `npm run bench:collector -- ingest rss` runs only the named parts (cycle, ingest, rss).
const parts = process.argv.slice(2)
const want = (p: string) => parts.length === 0 || parts.includes(p)
const influxd = await startInfluxd()
try {
  if (want('cycle')) await cycleBench(influxd.url, 10_000)
  if (want('cycle')) await cycleBench(influxd.url, 100_000)
  if (want('ingest')) await ingestBench(influxd.url)
  if (want('rss')) await rssBench()
} finally {
  await influxd.stop()
}
printTable()
process.exit(0)
