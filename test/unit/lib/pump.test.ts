import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startPump, type Pump, type StepResult } from '../../../lib/pump.ts'

/** A queue of due times (epoch ms) the pump drains, recording what it did. */
function queue(due: number[]) {
  const items = [...due]
  const done: number[] = []
  return {
    items,
    done,
    async step(): Promise<StepResult> {
      items.sort((a, b) => a - b)
      if (!items.length) return undefined
      if (items[0] > Date.now()) return items[0]
      done.push(items.shift()!)
      await Promise.resolve()
      return 'again'
    },
  }
}

describe('startPump', () => {
  let pump: Pump | undefined
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }))
  afterEach(async () => {
    await pump?.stop()
    vi.useRealTimers()
  })

  it('delivers what is due at start, sleeps until the next due time, and is idle in between', async () => {
    const q = queue([1_000_000, 999_000, 1_005_000])
    pump = startPump({ step: q.step, onError: () => expect.fail('no error') })
    await vi.advanceTimersByTimeAsync(0)
    await pump.idle()
    expect(q.done).toEqual([999_000, 1_000_000])
    await vi.advanceTimersByTimeAsync(4_999)
    expect(q.done).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(2) // the fake setImmediate takes one tick
    expect(q.done).toEqual([999_000, 1_000_000, 1_005_000])
  })

  it('a kick ends a sleep, and a kick during a round makes another right after it', async () => {
    const q = queue([])
    pump = startPump({ step: q.step, onError: () => expect.fail('no error') })
    await vi.advanceTimersByTimeAsync(0)
    q.items.push(Date.now())
    pump.kick()
    await vi.advanceTimersByTimeAsync(0)
    expect(q.done).toEqual([1_000_000])

    // The step that finds the queue empty is running when the item arrives: the kick is not lost.
    let release!: () => void
    let calls = 0
    pump = startPump({
      step: async () => {
        calls++
        if (calls === 1) await new Promise<void>((r) => (release = r))
        return undefined
      },
      onError: () => expect.fail('no error'),
    })
    await vi.advanceTimersByTimeAsync(0)
    pump.kick()
    release()
    await vi.advanceTimersByTimeAsync(0)
    expect(calls).toBe(2)
  })

  it('a step that throws is reported and retried after errorDelayMs', async () => {
    const errors: unknown[] = []
    let calls = 0
    pump = startPump({
      step: async () => {
        if (++calls === 1) throw new Error('disk full')
        return undefined
      },
      onError: (e) => errors.push(e),
      errorDelayMs: 3000,
    })
    await vi.advanceTimersByTimeAsync(0)
    expect(errors).toEqual([new Error('disk full')])
    await vi.advanceTimersByTimeAsync(2999)
    expect(calls).toBe(1)
    await vi.advanceTimersByTimeAsync(2)
    expect(calls).toBe(2)
  })

  it('runs at most `concurrency` steps at once', async () => {
    let running = 0
    let most = 0
    let left = 6
    pump = startPump({
      concurrency: 2,
      step: async () => {
        if (left === 0) return undefined
        left--
        running++
        most = Math.max(most, running)
        await new Promise((r) => setTimeout(r, 10))
        running--
        return 'again'
      },
      onError: () => expect.fail('no error'),
    })
    await vi.advanceTimersByTimeAsync(100)
    expect(left).toBe(0)
    expect(most).toBe(2)
  })

  it('stop aborts the running step, waits for it, and starts nothing after', async () => {
    let calls = 0
    let sawAbort = false
    pump = startPump({
      step: (signal) =>
        new Promise<StepResult>((resolve) => {
          calls++
          signal.addEventListener('abort', () => {
            sawAbort = true
            resolve('again')
          })
        }),
      onError: () => expect.fail('no error'),
    })
    await vi.advanceTimersByTimeAsync(0)
    await pump.stop()
    expect(sawAbort).toBe(true)
    pump.kick()
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls).toBe(1)
    expect(pump.stopped).toBe(true)
  })
})
