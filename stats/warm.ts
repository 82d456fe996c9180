import type { Job } from '../jobs/types.ts'
import { messageOf } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import type { StatsService } from './service.ts'

/** Options of {@link startLiveWarmer}. */
export interface WarmerOptions {
  stats: StatsService
  runningJobs: () => Job[]
  /** the collector's poll interval I, seconds: one round per poll */
  intervalSeconds: number
  /** seconds after each grid tick, when that poll's points are written @defaultValue 10 */
  delaySeconds?: number
  log: Logger
  now?: () => number
}

/**
 * Keeps every running job's live aggregates current (stats/live.ts): one round per poll interval,
 * shortly after the collector's grid tick, bringing each running job up to the latest poll. A user's
 * stats call then reads only the polls since that round, however long the job has run; the
 * first round after a start reads each running job once in full. Rounds never overlap (a slow one
 * skips the next), jobs go one after the other, and a failing InfluxDB costs one warning per round.
 */
export function startLiveWarmer(o: WarmerOptions): { stop(): void; round(): Promise<void> } {
  const now = o.now ?? Date.now
  const periodMs = o.intervalSeconds * 1000
  let timer: NodeJS.Timeout | undefined
  let busy = false
  let stopped = false

  const round = async () => {
    if (busy) return
    busy = true
    const failed: string[] = []
    let error: unknown
    try {
      for (const job of o.runningJobs()) {
        if (stopped) break
        await o.stats.warm(job).catch((err: unknown) => {
          failed.push(job.id)
          error ??= err
        })
      }
    } finally {
      busy = false
    }
    if (failed.length) o.log.warn('Live stats not refreshed', { jobs: failed.length, first: failed[0], error: messageOf(error) })
  }

  const next = () => {
    if (stopped) return
    const at = Math.floor(now() / periodMs) * periodMs + periodMs + (o.delaySeconds ?? 10) * 1000
    timer = setTimeout(() => {
      void round()
      next()
    }, at - now()).unref()
  }
  const first = setTimeout(() => void round(), 0).unref() // after a restart: read the running jobs once, now
  next()

  return {
    round,
    stop() {
      stopped = true
      clearTimeout(first)
      clearTimeout(timer)
    },
  }
}
