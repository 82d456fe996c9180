/**
 * id → directory cache for resolved file ids, sized for millions of ids.
 *
 * lru-cache measured ~250 MB RSS for 1M ids (string keys, per-entry TTL arrays) against the 200 MB
 * budget of issue #2, so this is hand-written: ids (~30-digit decimal strings, docs/qumulo/api.md §0) are
 * split into a shared prefix string and a numeric 12-digit suffix key; values are interned directory
 * strings. Expiry and the size bound use two generations instead of per-entry timestamps: lookups
 * read both, inserts go to the current one, and the old generation is dropped when the current one
 * is `ttl/2` old or holds `max/2` ids. A resolved path is therefore reused for between ttl/2 and ttl,
 * and at most `max` ids are held.
 */
export class IdPathCache {
  private current: Generation
  private previous: Generation

  /**
   * @param max - most ids held
   * @param ttlMs - longest time a resolved path is reused, in milliseconds
   * @param now - clock in milliseconds @defaultValue performance.now
   */
  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.current = new Generation(now())
    this.previous = new Generation(now())
  }

  get size(): number {
    return this.current.size + this.previous.size
  }

  /** The cached directory (`""` for a deleted id), or undefined when unknown or expired. */
  get(id: string): string | undefined {
    this.expire()
    return this.current.get(id) ?? this.previous.get(id)
  }

  set(id: string, directory: string): void {
    this.expire()
    if (this.current.size >= this.max / 2) this.rotate(this.now())
    this.current.set(id, directory)
  }

  /** Every entry of a generation was set after its start, so dropping it at start + ttl bounds age. */
  private expire(): void {
    const now = this.now()
    if (now - this.current.startedAt >= this.ttlMs / 2) this.rotate(now)
    if (now - this.previous.startedAt >= this.ttlMs) this.previous = new Generation(now)
  }

  private rotate(now: number): void {
    this.previous = this.current
    this.current = new Generation(now)
  }
}

const SUFFIX_DIGITS = 12

class Generation {
  size = 0
  constructor(readonly startedAt: number) {}
  private readonly byPrefix = new Map<string, Map<number | string, string>>()
  private readonly interned = new Map<string, string>()

  get(id: string): string | undefined {
    const [prefix, key] = split(id)
    return this.byPrefix.get(prefix)?.get(key)
  }

  set(id: string, directory: string): void {
    const [prefix, key] = split(id)
    let map = this.byPrefix.get(prefix)
    if (!map) this.byPrefix.set(prefix, (map = new Map()))
    let dir = this.interned.get(directory)
    if (dir === undefined) this.interned.set(directory, (dir = directory))
    if (!map.has(key)) this.size++
    map.set(key, dir)
  }
}

/** Decimal ids become (prefix, number); anything else is kept whole so odd ids still work. */
function split(id: string): [string, number | string] {
  if (id.length > SUFFIX_DIGITS && /^\d+$/.test(id)) {
    const cut = id.length - SUFFIX_DIGITS
    return [id.slice(0, cut), Number(id.slice(cut))]
  }
  return ['', id]
}
