/**
 * The delivery loop every durable queue here shares: the annotation outbox, the mail queue, the
 * summary schedule and the InfluxDB writer. Each queue keeps its items, their attempts and their
 * due times in its own durable state; the pump only decides *when* to look at it: one round at a
 * time (or `concurrency`), another right after when kicked meanwhile, a sleep until the earliest due
 * time the queue names, a pause after a step that throws, and a stop that waits for the round.
 */

/**
 * What one step tells the pump: `'again'` (it did something; step again), an epoch time in ms (nothing
 * is due before it; sleep until then or a kick), or `undefined` (nothing queued; sleep until a kick).
 */
export type StepResult = 'again' | number | undefined

/** Options of {@link startPump}. */
export interface PumpOptions {
  /** Takes the next due item and delivers it. Must claim the item before its first await when `concurrency` > 1. */
  step(signal: AbortSignal): Promise<StepResult>
  /** Called with what a step threw; the pump looks again after `errorDelayMs`. */
  onError(err: unknown): void
  /** pause after a step throws, ms @defaultValue 1000 */
  errorDelayMs?: number
  /** steps run at once @defaultValue 1 */
  concurrency?: number
  /** the clock due times are read against, epoch ms @defaultValue Date.now */
  now?: () => number
}

/** A running pump. */
export interface Pump {
  /** Look at the queue now: starts a round, or another right after the running one; ends a sleep. */
  kick(): void
  /** Resolves when no round runs or is about to (a sleep counts as idle). */
  idle(): Promise<void>
  /** Aborts the steps' signal, ends the sleep, waits for the running round; no round starts after. */
  stop(): Promise<void>
  /** true after `stop()` */
  readonly stopped: boolean
}

/** setTimeout's limit: a longer delay fires at once. */
const MAX_DELAY_MS = 2 ** 31 - 1

/** Starts a pump and kicks it once (a queue a previous run left full is delivered at start). */
export function startPump(o: PumpOptions): Pump {
  const now = o.now ?? Date.now
  const concurrency = Math.max(1, o.concurrency ?? 1)
  const abort = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let soon: NodeJS.Immediate | undefined
  let workers = 0
  let dirty = false
  /** the earliest due time the workers of this round returned */
  let nextAt: number | undefined
  let idleWaiters: Array<() => void> = []

  const sleepUntil = (at: number) => {
    clearTimeout(timer)
    timer = setTimeout(kick, Math.min(MAX_DELAY_MS, Math.max(0, at - now())))
    timer.unref()
  }

  const settle = () => {
    if (workers > 0 || soon) return
    const w = idleWaiters
    idleWaiters = []
    for (const resolve of w) resolve()
  }

  const worker = async (): Promise<void> => {
    for (;;) {
      if (abort.signal.aborted) return
      let r: StepResult
      try {
        r = await o.step(abort.signal)
      } catch (err) {
        if (abort.signal.aborted) return
        o.onError(err)
        r = now() + (o.errorDelayMs ?? 1000)
      }
      if (r === 'again') continue
      if (r !== undefined) nextAt = nextAt === undefined ? r : Math.min(nextAt, r)
      return
    }
  }

  const round = () => {
    soon = undefined
    if (abort.signal.aborted) return settle()
    clearTimeout(timer)
    timer = undefined
    dirty = false
    nextAt = undefined
    while (workers < concurrency) {
      workers++
      void worker().finally(() => {
        workers--
        if (workers > 0) return
        if (dirty && !abort.signal.aborted) kick()
        else if (nextAt !== undefined && !abort.signal.aborted) sleepUntil(nextAt)
        settle()
      })
    }
  }

  function kick(): void {
    if (abort.signal.aborted) return
    if (workers > 0) dirty = true
    else soon ??= setImmediate(round)
  }

  kick()
  return {
    kick,
    idle: () => (workers === 0 && !soon ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    async stop() {
      abort.abort()
      clearTimeout(timer)
      if (soon) clearImmediate(soon)
      soon = undefined
      const done = new Promise<void>((resolve) => idleWaiters.push(resolve))
      settle()
      await done
    },
    get stopped() {
      return abort.signal.aborted
    },
  }
}
