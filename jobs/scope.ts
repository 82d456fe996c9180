import type { JobScope } from '../lib/job-scope.ts'
import type { Job } from './types.ts'

/** What a collector needs of a job (lib/job-scope.ts): its window in epoch ms, its clients and paths. */
export function jobScope(j: Job): JobScope {
  return {
    id: j.id,
    name: j.name,
    cluster: j.cluster,
    startMs: Date.parse(j.startedAt),
    endMs: j.endedAt ? Date.parse(j.endedAt) : undefined,
    clients: j.clients,
    paths: j.paths,
  }
}
