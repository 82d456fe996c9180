// Child process for the kill -9 test: spools numbered batches towards an unreachable InfluxDB and
// prints `durable <lines>` each time a write() resolved, until it is killed.
import { createDurableWriter } from '../../lib/influx/writer.ts'
import { silentLogger } from '../../lib/log.ts'
import { numberedLines } from './fake-influx.ts'

const dir = process.argv[2]
const writer = await createDurableWriter({
  influx: { url: 'http://127.0.0.1:1', bucket: 'qa', queryLanguage: 'influxql' },
  dir,
  maxBytes: 2 ** 30,
  log: silentLogger,
  retryMinMs: 10,
  retryMaxMs: 50,
})
let next = 0
for (;;) {
  const n = 500 + Math.floor(Math.random() * 2000)
  await writer.write(numberedLines(next, n))
  next += n
  process.stdout.write(`durable ${next}\n`)
}
