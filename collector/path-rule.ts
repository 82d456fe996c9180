import { stripTrailingSlash, truncatePath } from '../lib/paths.ts'
import { UNRESOLVED_PATH } from '../lib/schema.ts'

/**
 * The `path` tag rule of interface.md §4: the longest watched path containing the object, else the
 * object's directory cut to `depth` components. Directories (resolved with a trailing `/`) are their
 * own directory; `""` (deleted since sampled) becomes {@link UNRESOLVED_PATH}.
 */
export class PathRule {
  private readonly watched: Set<string>
  private readonly byDirectory = new Map<string, string>()

  /**
   * @param watched - normalised absolute paths (running jobs' paths and `QACTIVITY_WATCH_PATHS`)
   * @param depth - components kept outside watched paths (`QACTIVITY_PATH_DEPTH`)
   */
  constructor(watched: Iterable<string>, private readonly depth: number) {
    this.watched = new Set(watched)
  }

  /** The tag for a path exactly as `/v1/files/resolve` returned it. */
  tagFor(resolved: string): string {
    if (resolved === '') return UNRESOLVED_PATH
    const isDirectory = resolved.endsWith('/')
    const path = stripTrailingSlash(resolved)
    // A watched path may name a file itself; everything else is decided by the directory, memoised.
    if (!isDirectory && this.watched.has(path)) return path
    const dir = isDirectory ? path : parentOf(path)
    let tag = this.byDirectory.get(dir)
    if (tag === undefined) {
      tag = this.longestWatched(dir) ?? truncatePath(dir, this.depth)
      this.byDirectory.set(dir, tag)
    }
    return tag
  }

  private longestWatched(dir: string): string | undefined {
    if (this.watched.size === 0) return undefined
    for (let p = dir; ; p = parentOf(p)) {
      if (this.watched.has(p)) return p
      if (p === '/') return undefined
    }
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/')
  return i <= 0 ? '/' : path.slice(0, i)
}
