import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'

/**
 * The job paths the poll stamped `tickS` (epoch s) must watch: its cluster's running jobs' and those
 * of jobs completed less than one interval before the tick. From the job store in `serve`, from
 * the API for a lone collector.
 */
export type JobPathSource = (tickS: number) => Promise<string[]>

/**
 * Watched paths for a cycle: the static `QACTIVITY_WATCH_PATHS` plus running jobs' paths. When the
 * job source fails, the last paths it gave are kept so attribution does not flap during an outage.
 */
export function watchedPaths(staticPaths: string[], jobs: JobPathSource | undefined, log: Logger): (tickS: number) => Promise<string[]> {
  let lastJobPaths: string[] = []
  return async (tickS) => {
    if (jobs) {
      try {
        lastJobPaths = await jobs(tickS)
      } catch (err) {
        log.warn('Running jobs unavailable; using their last known paths', { error: messageOf(err) })
      }
    }
    return [...new Set([...staticPaths, ...lastJobPaths])]
  }
}
