import { randomBytes, timingSafeEqual } from 'node:crypto'

/** Users, long-lived access tokens and the session tokens handed out by `POST /v1/session/login`. */
export interface SessionStore {
  /** A new `session-v1:` token, or undefined for a wrong user or password. */
  login(username: string, password: string): string | undefined
  /** True for a configured access token or an unexpired session token. */
  accepts(token: string): boolean
  /** Forgets every session token, as if they had all expired. */
  expireAll(): void
}

export interface SessionOptions {
  users: Record<string, string>
  accessTokens: string[]
  /** Milliseconds since the epoch. */
  clock: () => number
  /** Read at each login so a fault change applies to new sessions. */
  lifetimeSeconds: () => number
}

export function createSessionStore(o: SessionOptions): SessionStore {
  const sessions = new Map<string, number>()
  const access = new Set(o.accessTokens)
  return {
    login: (username, password) => {
      const expected = Object.hasOwn(o.users, username) ? o.users[username] : undefined
      if (expected === undefined || !sameSecret(expected, password)) return undefined
      const token = `session-v1:${randomBytes(24).toString('base64url')}`
      sessions.set(token, o.clock() + o.lifetimeSeconds() * 1000)
      return token
    },
    accepts: (token) => {
      if (access.has(token)) return true
      const expires = sessions.get(token)
      if (expires === undefined) return false
      if (o.clock() < expires) return true
      sessions.delete(token)
      return false
    },
    expireAll: () => sessions.clear(),
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
