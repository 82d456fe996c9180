/**
 * Waits until `f` gives a value other than undefined or false (polled every `intervalMs`) and
 * returns it; fails naming `what` after `timeoutMs`. A bound on a condition, never a span of time
 * asserted: on a loaded machine it only has to be generous.
 */
export async function until<T>(f: () => T | undefined | false, what: string, timeoutMs = 20_000, intervalMs = 10): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
