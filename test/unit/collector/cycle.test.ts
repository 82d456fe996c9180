import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { loadConfig } from '../../../lib/config.ts'
import { silentLogger } from '../../../lib/log.ts'
import { createDurableWriter } from '../../../lib/influx/writer.ts'
import { createQumuloClient } from '../../../qumulo/client.ts'
import { createCollector } from '../../../collector/index.ts'
import { startFakeInflux, type FakeInflux } from '../../support/fake-influx.ts'
import { tempDir } from '../../support/tmp.ts'

const ID = (n: number) => '131072291465916581' + String(n).padStart(12, '0')

/** A cluster answering in Qumulo's documented shapes, with two malformed entries and one failing path. */
function startOddCluster(): Promise<{ url: string; server: Server }> {
  const routes: Record<string, () => [number, unknown]> = {
    'GET /v1/analytics/activity/current': () => [
      200,
      {
        entries: [
          { id: ID(1), ip: '10.0.0.1', rate: 2, type: 'file-iops-read' },
          { id: ID(2), ip: '10.0.0.1', rate: 4096 / 60, type: 'file-throughput-write' },
          { id: ID(3), ip: '10.0.0.2', rate: 1, type: 'file-iops-bogus' },
          { id: ID(4), ip: 'not-an-ip', rate: 1, type: 'file-iops-read' },
        ],
      },
    ],
    'POST /v1/files/resolve': () => [
      200,
      [
        { id: ID(1), path: '/w1/a/f' },
        { id: ID(2), path: '/w2/b/' },
      ],
    ],
    'GET /v1/file-system': () => [
      200,
      { block_size_bytes: 4096, total_size_bytes: '1000', free_size_bytes: '400', snapshot_size_bytes: '0' },
    ],
    'GET /v1/files/%2Fw1/aggregates/?max-entries=0': () => [
      200,
      {
        path: '/w1/',
        id: ID(9),
        files: [],
        total_capacity: '10',
        total_data: '8',
        total_meta: '2',
        total_named_stream_data: '0',
        total_files: '3',
        total_directories: '1',
        total_symlinks: '0',
        total_other_objects: '0',
        total_named_streams: '0',
      },
    ],
    'GET /v1/files/%2Fw2/aggregates/?max-entries=0': () => [
      500,
      { module: 'fs', error_class: 'fs_internal_error', description: 'boom', stack: [], user_visible: true },
    ],
  }
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      req.resume()
      const route = routes[`${req.method} ${req.url}`]
      const [status, body] = route ? route() : [404, { error_class: 'http_not_found_error', description: req.url }]
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })
    server.listen(0, '127.0.0.1', () => {
      const a = server.address()
      resolve({ url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, server })
    })
  })
}

let cluster: { url: string; server: Server }
let influx: FakeInflux
beforeAll(async () => {
  ;[cluster, influx] = await Promise.all([startOddCluster(), startFakeInflux()])
})
afterAll(async () => {
  cluster.server.close()
  await influx.close()
})

describe('runCycle', () => {
  it('writes what is valid, counts malformed entries and failing paths, and still writes the rest', async () => {
    const config = loadConfig(
      {
        QUMULO_URL: cluster.url,
        QUMULO_TOKEN: 'access-v1:t',
        QUMULO_CLUSTER: 'c',
        INFLUX_URL: influx.url,
        QACTIVITY_WATCH_PATHS: '/w1,/w2',
        QACTIVITY_DATA_DIR: tempDir(),
      },
      ['qumulo', 'influx'],
    )
    const writer = await createDurableWriter({
      influx: config.influx,
      dir: join(config.storage.dataDir, 'spool'),
      maxBytes: 1e6,
      log: silentLogger,
    })
    const report = await createCollector({
      config,
      qumulo: createQumuloClient(config.qumulo, silentLogger),
      writer,
      log: silentLogger,
    }).runOnce(1_700_000_000)
    await writer.flush()
    await writer.close()

    expect(report).toMatchObject({ success: false, entries: 2, rejectedEntries: 2, points: 5, resolveCalls: 1 })
    expect(report.failedEndpoints.sort()).toEqual(['activity-entries', 'aggregates /w2'])
    expect(influx.accepted).toEqual(
      expect.arrayContaining([
        'qumulo_activity,client_ip=10.0.0.1,cluster=c,path=/w1 ' +
          'iops_read=120i,iops_write=0i,metadata_iops_read=0i,metadata_iops_write=0i,throughput_read=0i,throughput_write=0i 1700000000000',
        'qumulo_activity,client_ip=10.0.0.1,cluster=c,path=/w2 ' +
          'iops_read=0i,iops_write=0i,metadata_iops_read=0i,metadata_iops_write=0i,' +
          'throughput_read=0i,throughput_write=4096i 1700000000000',
        'qumulo_capacity,cluster=c,path=/w1 used_bytes=10i,data_bytes=8i,meta_bytes=2i,files=3i,directories=1i 1700000000000',
        'qumulo_cluster,cluster=c total_bytes=1000i,free_bytes=400i,used_bytes=600i,snapshot_bytes=0i 1700000000000',
      ]),
    )
    const self = influx.accepted.find((l) => l.startsWith('qactivity_collector'))!
    expect(self).toContain('rejected_entries=2i')
    expect(self).toContain('success=0i')
    expect(self).toMatch(/failed="(activity-entries,aggregates \/w2|aggregates \/w2,activity-entries)"/)
  })
})
