import { join } from 'node:path'
import { createApp, type AppDeps } from '../../api/app.ts'
import { JobService, type JobServiceDeps } from '../../jobs/service.ts'
import { openJobStore } from '../../jobs/store.ts'
import type { ApiToken } from '../../lib/config.ts'
import { silentLogger } from '../../lib/log.ts'
import { tempDir } from './tmp.ts'

export const TOKENS: ApiToken[] = [
  { name: 'ci', token: 'writer-token-0123456789', role: 'writer' },
  { name: 'viewer', token: 'reader-token-0123456789', role: 'reader' },
  { name: 'root', token: 'admin-token-01234567890', role: 'admin' },
]

/** The real app over a real store in a temp dir; extra service deps (writer, aggregates, outbox) and app deps (stats, reports) optional. */
export async function makeApp(
  opts: { auth?: boolean; trustProxy?: boolean; deps?: Partial<JobServiceDeps>; app?: (service: JobService) => Partial<AppDeps> } = {},
) {
  const dir = tempDir()
  const store = await openJobStore(join(dir, 'jobs.json'), silentLogger)
  const service = new JobService({ store, clusters: ['test'], log: silentLogger, ...opts.deps })
  const app = createApp({
    service,
    config: { auth: opts.auth ?? true, tokens: TOKENS, trustProxy: opts.trustProxy ?? false },
    log: silentLogger,
    archive: () => store.archive(new Date()),
    ...opts.app?.(service),
  })
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${TOKENS[0].token}`, ...headers } }
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body)
      if (typeof body !== 'string' && !('content-type' in headers))
        (init.headers as Record<string, string>)['content-type'] = 'application/json'
    }
    return app.request(path, init)
  }
  return { app, store, service, dir, call }
}
