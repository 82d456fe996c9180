import type { Logger } from '../lib/log.ts'
import { messageOf } from '../lib/errors.ts'
import type { JobScope } from '../lib/job-scope.ts'

/**
 * The jobs the poll stamped `tickS` (epoch s) attributes activity to, and whose paths it watches:
 * its cluster's running jobs and those completed less than one interval before the tick. From the
 * job store in `serve`, from the API for a lone collector.
 */
export type JobSource = (tickS: number) => Promise<JobScope[]>

/** What a cycle watches and attributes to. */
export interface CycleScope {
  /** `QACTIVITY_WATCH_PATHS` plus the jobs' paths */
  paths: string[]
  jobs: JobScope[]
  /** the job source failed or did not answer in time: these are the jobs it gave for the poll stamped `staleSince` (epoch s; 0: none) */
  staleSince?: number
}

/**
 * The scope of each cycle. When the job source fails, the jobs it last gave are kept, so that
 * attribution and the path tags do not flap during an API outage.
 */
export function cycleScope(staticPaths: string[], source: JobSource | undefined, log: Logger): (tickS: number) => Promise<CycleScope> {
  let last: JobScope[] = []
  let lastTick = 0
  return async (tickS) => {
    let staleSince: number | undefined
    if (source) {
      try {
        last = await source(tickS)
        lastTick = tickS
      } catch (err) {
        staleSince = lastTick
        log.warn('Running jobs unavailable; using the last known ones', { error: messageOf(err) })
      }
    }
    return { paths: [...new Set([...staticPaths, ...last.flatMap((j) => j.paths)])], jobs: last, staleSince }
  }
}
