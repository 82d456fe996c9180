import { serve } from '@hono/node-server'
import { createServer as createHttpsServer } from 'node:https'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSimulatorApp, DEFAULT_FAULTS, type Faults } from './app.ts'
import { buildCluster } from './cluster.ts'
import type { Scenario } from './scenario.ts'
import { createSessionStore } from './sessions.ts'
import { createSelfSignedCertificate, type SelfSignedCertificate } from './tls.ts'

export type { Faults } from './app.ts'

export interface SimulatorOptions {
  scenario: Scenario
  /** 0 picks a free port @defaultValue 0 */
  port?: number
  /** @defaultValue '127.0.0.1' */
  host?: string
  /** Serve HTTPS with a fresh self-signed certificate (see `caPem`) @defaultValue false */
  https?: boolean
  /** Login users and passwords @defaultValue { admin: 'admin' } */
  users?: Record<string, string>
  /** `access-v1:` tokens accepted without login, never expiring. */
  accessTokens?: string[]
  faults?: Partial<Faults>
  /** Milliseconds since the epoch; scenario time starts at its value when the simulator starts @defaultValue Date.now */
  clock?: () => number
}

export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string
  /** The self-signed certificate (PEM) when serving HTTPS; write it to a file for `QUMULO_CA_FILE`. */
  caPem?: string
  close(): Promise<void>
  setFaults(f: Partial<Faults>): void
  /** Invalidates every session token: the next request with one gets a 401. */
  expireSessions(): void
  /** Requests per route key, e.g. `GET /v1/analytics/activity/current` (live). */
  requests: Record<string, number>
  /** Number of ids in each `POST /v1/files/resolve` (live). */
  resolveBatchSizes: number[]
}

export async function startSimulator(o: SimulatorOptions): Promise<RunningSimulator> {
  const clock = o.clock ?? Date.now
  const startedAt = clock()
  const faults: Faults = { ...DEFAULT_FAULTS, ...o.faults }
  const sessions = createSessionStore({
    users: o.users ?? { admin: 'admin' },
    accessTokens: o.accessTokens ?? [],
    clock,
    lifetimeSeconds: () => faults.tokenLifetimeSeconds,
  })
  const requests: Record<string, number> = {}
  const resolveBatchSizes: number[] = []
  const app = createSimulatorApp({
    cluster: buildCluster(o.scenario),
    sessions,
    faults,
    elapsedSeconds: () => (clock() - startedAt) / 1000,
    requests,
    resolveBatchSizes,
  })
  const host = o.host ?? '127.0.0.1'
  const tls = o.https ? await createSelfSignedCertificate(host) : undefined
  const server = await listen(app.fetch, host, o.port ?? 0, tls)
  const { port } = server.address() as AddressInfo
  return {
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caPem: tls?.cert,
    close: () => closeServer(server),
    setFaults: (f) => Object.assign(faults, f),
    expireSessions: () => sessions.expireAll(),
    requests,
    resolveBatchSizes,
  }
}

type Fetch = (request: Request) => Response | Promise<Response>

function listen(fetch: Fetch, hostname: string, port: number, tls: SelfSignedCertificate | undefined): Promise<Server> {
  return new Promise((resolve, reject) => {
    const options = tls ? { createServer: createHttpsServer, serverOptions: { key: tls.key, cert: tls.cert } } : {}
    // serve() types its result as a union with HTTP/2 servers; we only ever create HTTP/1 ones.
    const server = serve({ fetch, port, hostname, ...options }, () => resolve(server)) as Server
    server.once('error', reject)
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()))
    server.closeAllConnections()
  })
}
