import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'

/** Where running jobs' paths come from: the job store in `serve`, the API for a lone collector. */
export type JobPathSource = () => Promise<string[]>

/**
 * Watched paths for a cycle: the static `QACTIVITY_WATCH_PATHS` plus running jobs' paths. When the
 * job source fails, the last paths it gave are kept so attribution does not flap during an outage.
 */
export function watchedPaths(staticPaths: string[], jobs: JobPathSource | undefined, log: Logger): () => Promise<string[]> {
  let lastJobPaths: string[] = []
  return async () => {
    if (jobs) {
      try {
        lastJobPaths = await jobs()
      } catch (err) {
        log.warn('Running jobs unavailable; using their last known paths', { error: messageOf(err) })
      }
    }
    return [...new Set([...staticPaths, ...lastJobPaths])]
  }
}
