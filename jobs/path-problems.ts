import type { JobStore } from './store.ts'
import type { Job } from './types.ts'

/**
 * Records on running jobs the collector's verdict on their paths (`error`, e.g. "/x: no such directory
 * on Qumulo"). Called every cycle with the paths checked; the store is written only when a job's
 * error changes, so a bad path costs one update, not one per cycle. A job whose paths were not all
 * checked yet (Qumulo down since a restart) keeps its error as it is. With several clusters, make one
 * recorder per cluster, given that cluster's running jobs only.
 */
export function pathProblemRecorder(store: JobStore, runningJobs: () => Job[]): (states: Map<string, string | undefined>) => Promise<void> {
  const known = new Map<string, string | undefined>()
  return async (states) => {
    for (const [path, problem] of states) known.set(path, problem)
    const changes = new Map<string, string | undefined>()
    const watched = new Set<string>()
    for (const job of runningJobs()) {
      for (const p of job.paths) watched.add(p)
      if (!job.paths.every((p) => known.has(p))) continue
      const error =
        job.paths
          .map((p) => known.get(p))
          .filter(Boolean)
          .join('; ') || undefined
      if (error !== job.error) changes.set(job.id, error)
    }
    for (const p of known.keys()) if (!watched.has(p)) known.delete(p)
    if (!changes.size) return
    await store.update(
      (d) => {
        for (const [id, error] of changes) {
          const job = d.jobs[id]
          if (!job) continue
          if (error) job.error = error
          else delete job.error
        }
      },
      [...changes.keys()],
    )
  }
}
