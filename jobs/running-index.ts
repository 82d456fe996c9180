/** A job's place in list order: newest start first, then the greater id. */
export interface ListKey {
  startedAt: string
  id: string
}

/** -1, 0 or 1 as `a` sorts before, with or after `b` in ascending (startedAt, id) order. */
const compare = (a: ListKey, b: ListKey): number =>
  a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

/**
 * The running jobs, kept in list order, so that a page of `GET /api/v1/jobs?status=running` with
 * 10,000 running jobs reads its `limit` jobs after the cursor instead of sorting them all per
 * request. New jobs start now, so an insertion is almost always at the end.
 */
export class RunningIndex {
  /** ascending (startedAt, id) */
  private readonly keys: ListKey[] = []
  private readonly ids = new Set<string>()

  get size(): number {
    return this.ids.size
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }

  add(key: ListKey): void {
    if (this.ids.has(key.id)) return
    this.ids.add(key.id)
    this.keys.splice(this.lowerBound(key), 0, { startedAt: key.startedAt, id: key.id })
  }

  delete(key: ListKey): void {
    if (!this.ids.delete(key.id)) return
    const i = this.lowerBound(key)
    if (i < this.keys.length && compare(this.keys[i], key) === 0) this.keys.splice(i, 1)
    else {
      // startedAt of the stored key differs (should not happen: a job's start never changes): find it by id
      const j = this.keys.findIndex((k) => k.id === key.id)
      if (j >= 0) this.keys.splice(j, 1)
    }
  }

  /** Ids in list order (newest first), those strictly after `cursor` in that order when given. */
  *newestFirst(cursor?: ListKey): Generator<string> {
    let i = cursor ? this.lowerBound(cursor) - 1 : this.keys.length - 1
    for (; i >= 0; i--) yield this.keys[i].id
  }

  /** Ids, oldest first. */
  values(): IterableIterator<string> {
    return this.ids.values()
  }

  /** The first index whose key is not below `key`. */
  private lowerBound(key: ListKey): number {
    let lo = 0
    let hi = this.keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compare(this.keys[mid], key) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
