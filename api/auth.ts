import { createHash, timingSafeEqual } from 'node:crypto'
import { createMiddleware } from 'hono/factory'
import type { ApiConfig, Role } from '../lib/config.ts'
import { ApiError } from './errors.ts'

/** Who is calling: the token's name and role. */
export interface Principal {
  name: string
  role: Role
}

/** Hono context variables set by {@link authenticate}. */
export type AuthEnv = { Variables: { principal: Principal } }

const RANK: Record<Role, number> = { reader: 0, writer: 1, admin: 2 }
const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * Bearer-token authentication. Tokens are compared as SHA-256 digests with `timingSafeEqual`, against
 * every configured token, so neither length nor position leaks through timing.
 */
export function authenticate(config: Pick<ApiConfig, 'auth' | 'tokens'>) {
  const known = config.tokens.map((t) => ({ ...t, digest: digest(t.token) }))
  return createMiddleware<AuthEnv>(async (c, next) => {
    if (!config.auth) {
      c.set('principal', { name: 'anonymous', role: 'admin' })
      return next()
    }
    const header = c.req.header('authorization') ?? ''
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!m) throw new ApiError(401, 'unauthorized', 'missing bearer token (Authorization: Bearer <token>)')
    const given = digest(m[1])
    let match: (typeof known)[number] | undefined
    for (const t of known) if (timingSafeEqual(given, t.digest)) match = t
    if (!match) throw new ApiError(401, 'unauthorized', 'unknown token')
    c.set('principal', { name: match.name, role: match.role })
    return next()
  })
}

/** Refuses callers below `role` with a 403 naming what is needed. */
export function requireRole(role: Role) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const p = c.get('principal')
    if (RANK[p.role] < RANK[role]) throw new ApiError(403, 'forbidden', `token "${p.name}" has role ${p.role}; this needs ${role}`)
    return next()
  })
}

/** The role a request needs: reading is `reader`, changing jobs is `writer`, maintenance is `admin`. */
export function roleFor(method: string, path: string): Role {
  if (path.startsWith('/api/v1/admin/')) return 'admin'
  return method === 'GET' || method === 'HEAD' ? 'reader' : 'writer'
}
