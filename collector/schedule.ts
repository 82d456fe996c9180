/**
 * Ticks on a fixed grid of epoch multiples of the interval (00:00, 00:01, … for 60 s), so timestamps
 * line up across restarts and `GROUP BY time()` buckets, and a slow cycle never shifts later ticks:
 * ticks that passed while a cycle ran are skipped and counted instead of run late.
 */
export interface Ticker {
  stop(): void
  /** resolves when the loop has stopped and the running cycle (if any) finished */
  done: Promise<void>
}

/** The first grid time strictly after `nowMs`, in epoch seconds. */
export function nextTick(nowMs: number, intervalSeconds: number): number {
  return (Math.floor(nowMs / 1000 / intervalSeconds) + 1) * intervalSeconds
}

/**
 * Calls `cycle(tickSeconds, skipped)` at every grid time until stopped.
 * @param now - clock in epoch milliseconds @defaultValue Date.now
 */
export function startTicker(
  intervalSeconds: number,
  cycle: (tick: number, skipped: number) => Promise<void>,
  now: () => number = Date.now,
): Ticker {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let wake: () => void = () => {}
  const done = (async () => {
    let tick = nextTick(now(), intervalSeconds)
    let skipped = 0
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve
        timer = setTimeout(resolve, Math.max(0, tick * 1000 - now()))
      })
      if (stopped) break
      await cycle(tick, skipped)
      const next = Math.max(nextTick(now(), intervalSeconds), tick + intervalSeconds)
      skipped = Math.max(0, (next - tick) / intervalSeconds - 1)
      tick = next
    }
  })()
  return {
    stop() {
      stopped = true
      clearTimeout(timer)
      wake()
    },
    done,
  }
}
