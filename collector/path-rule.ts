import { stripTrailingSlash, truncatePath } from '../lib/paths.ts'
import { UNRESOLVED_PATH } from '../lib/schema.ts'

/**
 * The directory an activity entry's object lives in, from the path `/v1/files/resolve` served:
 * a file's parent, a directory itself (served with a trailing `/`), `""` for a deleted id.
 */
export function directoryOf(resolved: string): string {
  if (resolved === '') return ''
  if (resolved.endsWith('/')) return stripTrailingSlash(resolved)
  const i = resolved.lastIndexOf('/')
  return i <= 0 ? '/' : resolved.slice(0, i)
}

/**
 * The `path` tag rule of docs/interface.md §4: the longest watched path containing the object's
 * directory, else that directory cut to `depth` components; `""` becomes {@link UNRESOLVED_PATH}.
 * Watched paths are directories (a job's or `QACTIVITY_WATCH_PATHS`' trees).
 */
export class PathRule {
  private readonly watched: Set<string>
  private readonly memo = new Map<string, string>()

  /**
   * @param watched - normalised absolute paths (running jobs' paths and `QACTIVITY_WATCH_PATHS`)
   * @param depth - components kept outside watched paths (`QACTIVITY_PATH_DEPTH`)
   */
  constructor(
    watched: Iterable<string>,
    private readonly depth: number,
  ) {
    this.watched = new Set(watched)
  }

  /** true for a watched path (a tag the series budget never collapses) */
  isWatched(path: string): boolean {
    return this.watched.has(path)
  }

  /** The tag for a directory as returned by {@link directoryOf}. */
  tagFor(directory: string): string {
    if (directory === '') return UNRESOLVED_PATH
    let tag = this.memo.get(directory)
    if (tag === undefined) {
      tag = this.longestWatched(directory) ?? truncatePath(directory, this.depth)
      this.memo.set(directory, tag)
    }
    return tag
  }

  private longestWatched(dir: string): string | undefined {
    if (this.watched.size === 0) return undefined
    for (let p = dir; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
      if (this.watched.has(p)) return p
      if (p === '/') return undefined
    }
  }
}
