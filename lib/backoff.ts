/**
 * Jittered exponential backoff: attempt 1 waits about `minMs`, doubling up to `maxMs`; a server's
 * `Retry-After` (`askedMs`) is honoured up to `maxMs`.
 */
export function retryDelay(attempt: number, minMs: number, maxMs: number, askedMs = 0): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30))
  return Math.min(maxMs, Math.max(askedMs, base / 2 + (Math.random() * base) / 2))
}
