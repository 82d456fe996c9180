/** Longest path accepted, in UTF-8 bytes (docs/interface.md §5). */
export const MAX_PATH_BYTES = 4096

/** Result of {@link normalizePath}: the canonical path, or why it was refused. */
export type NormalizedPath = { ok: true; path: string } | { ok: false; reason: string }

/**
 * Canonical form of a user-supplied cluster path: absolute, no `.`/`..` components, no NUL or other
 * control characters, no empty components, no trailing slash (`/` for the root), ≤ 4096 bytes.
 */
export function normalizePath(input: string): NormalizedPath {
  if (!input.startsWith('/')) return { ok: false, reason: 'must be absolute (start with /)' }
  if (/[\u0000-\u001f\u007f]/.test(input)) return { ok: false, reason: 'must not contain control characters' }
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) return { ok: false, reason: `must be at most ${MAX_PATH_BYTES} bytes` }
  const parts = input.split('/').filter((p) => p !== '')
  if (parts.some((p) => p === '.' || p === '..')) return { ok: false, reason: 'must not contain . or .. components' }
  return { ok: true, path: '/' + parts.join('/') }
}

/** A path as Qumulo returns it (directories end with `/`) without the trailing slash; `/` stays `/`. */
export function stripTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') || '/' : path
}

/** True when `path` is `base` or lies under it: `/a/b` is under `/a` but `/ab` is not. */
export function isAtOrUnder(path: string, base: string): boolean {
  if (base === '/') return path.startsWith('/')
  return path === base || (path.startsWith(base) && path.charCodeAt(base.length) === 47) /* '/' */
}

/** The first `depth` components of an absolute path (`/` when depth is 0 or the path is the root). */
export function truncatePath(path: string, depth: number): string {
  if (depth <= 0 || path === '/') return '/'
  let idx = 0
  for (let i = 0; i < depth; i++) {
    idx = path.indexOf('/', idx + 1)
    if (idx === -1) return path
  }
  return path.slice(0, idx)
}
