/**
 * One-shot Grafana setup for docker-compose.yml (the `grafana-init` service): gives qactivity a
 * service-account token for its job annotations, which Grafana cannot provision from files.
 *
 * Idempotent, so it runs at every `docker compose up`:
 * 1. waits until `GET /api/health` answers 200;
 * 2. finds or creates the service account `qactivity` with the admin's basic auth
 *    (`GET /api/serviceaccounts/search`, `POST /api/serviceaccounts`), and `PATCH`es it back to role
 *    Editor, enabled, if someone changed it;
 * 3. if the token file holds a token Grafana accepts (`GET /api/annotations`), stops there (`kept`);
 * 4. otherwise deletes the tokens earlier runs created (their secret went with the old file), creates
 *    one (`POST /api/serviceaccounts/{id}/tokens`, no expiry) and writes it to the file (temp file +
 *    rename, mode 0600).
 *
 * Environment: `GRAFANA_URL` (default `http://grafana:3000`), `GF_SECURITY_ADMIN_USER` (default
 * `admin`), `GF_SECURITY_ADMIN_PASSWORD` (required), `GRAFANA_TOKEN_FILE` (required). Exit 0 on success,
 * 1 with one line on stderr otherwise. Run as `node bin/run-ts.mjs scripts/grafana-init.ts`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Options of {@link initGrafana}. */
export interface GrafanaInitOptions {
  /** Grafana base URL; a path prefix is kept */
  url: string
  /** admin login for basic auth */
  user: string
  password: string
  /** where the token is (and is written) */
  tokenFile: string
  /** service account name @defaultValue 'qactivity' */
  name?: string
  /** how long to wait for `/api/health` @defaultValue 120 */
  waitSeconds?: number
  /** pause between health probes @defaultValue 2000 */
  pollMs?: number
  log?: (line: string) => void
}

/** What {@link initGrafana} did. */
export interface GrafanaInitResult {
  token: 'kept' | 'created'
  serviceAccountId?: number
}

/** Names of the tokens this script creates; older ones are deleted when a new one is made. */
const TOKEN_PREFIX = 'qactivity-compose-'
const ROLE = 'Editor'

class InitError extends Error {}

export async function initGrafana(o: GrafanaInitOptions): Promise<GrafanaInitResult> {
  const base = o.url.replace(/\/+$/, '')
  const name = o.name ?? 'qactivity'
  const log = o.log ?? (() => {})
  const basic = 'Basic ' + Buffer.from(`${o.user}:${o.password}`).toString('base64')

  async function call(method: string, path: string, auth: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: auth, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
      redirect: 'manual',
    })
    const text = await res.text()
    let json: unknown
    try {
      json = text ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    return { status: res.status, json }
  }
  async function admin(method: string, path: string, body?: unknown, ok: number[] = [200, 201]): Promise<unknown> {
    const r = await call(method, path, basic, body)
    if (!ok.includes(r.status)) {
      const msg = (r.json as { message?: unknown } | undefined)?.message
      const hint =
        r.status === 401 ? ' (GF_SECURITY_ADMIN_PASSWORD only applies when Grafana first creates its database; see the README)' : ''
      throw new InitError(`[${method}] ${path}: ${r.status}${typeof msg === 'string' ? ` ${msg}` : ''}${hint}`)
    }
    return r.json
  }

  // 1. Grafana up.
  const deadline = Date.now() + (o.waitSeconds ?? 120) * 1000
  for (;;) {
    let why: string
    try {
      const r = await call('GET', '/api/health', '')
      if (r.status === 200) break
      why = `answered ${r.status}`
    } catch (err) {
      why = err instanceof Error ? err.message : String(err)
    }
    if (Date.now() >= deadline) throw new InitError(`${base}/api/health: not ready after ${o.waitSeconds ?? 120} s (${why})`)
    await new Promise((r) => setTimeout(r, o.pollMs ?? 2000))
  }

  // 2. The service account, with the role annotations need.
  type Account = { id: number; name: string; role?: string; isDisabled?: boolean }
  const find = async (): Promise<Account | undefined> => {
    const found = (await admin('GET', `/api/serviceaccounts/search?perpage=100&page=1&query=${encodeURIComponent(name)}`)) as
      { serviceAccounts?: Account[] } | undefined
    return found?.serviceAccounts?.find((a) => a.name === name)
  }
  let account = await find()
  if (!account) {
    const r = await call('POST', '/api/serviceaccounts', basic, { name, role: ROLE, isDisabled: false })
    if (r.status === 200 || r.status === 201) {
      account = r.json as Account
      log(`service account "${name}" created (id ${account.id})`)
    } else {
      account = await find() // created concurrently
      if (!account) throw new InitError(`[POST] /api/serviceaccounts: ${r.status}`)
    }
  } else if (account.role !== ROLE || account.isDisabled) {
    await admin('PATCH', `/api/serviceaccounts/${account.id}`, { name, role: ROLE, isDisabled: false })
    log(`service account "${name}" set to ${ROLE}, enabled`)
  }
  if (typeof account.id !== 'number') throw new InitError('[POST] /api/serviceaccounts: answer has no id')

  // 3. A token already there and accepted: nothing more to do.
  const existing = await readFile(o.tokenFile, 'utf8').then(
    (t) => t.trim(),
    () => '',
  )
  if (existing) {
    const r = await call('GET', '/api/annotations?limit=1', `Bearer ${existing}`)
    if (r.status === 200) {
      log(`token in ${o.tokenFile} is valid; kept`)
      return { token: 'kept', serviceAccountId: account.id }
    }
    if (r.status !== 401 && r.status !== 403) throw new InitError(`[GET] /api/annotations: ${r.status} while checking the existing token`)
    log(`token in ${o.tokenFile} is refused (${r.status}); making a new one`)
  }

  // 4. A fresh token; the ones earlier runs made are unusable now (their secret is gone), so delete them.
  const tokens =
    ((await admin('GET', `/api/serviceaccounts/${account.id}/tokens`)) as Array<{ id: number; name: string }> | undefined) ?? []
  for (const t of tokens) if (t.name.startsWith(TOKEN_PREFIX)) await admin('DELETE', `/api/serviceaccounts/${account.id}/tokens/${t.id}`)
  const created = (await admin('POST', `/api/serviceaccounts/${account.id}/tokens`, { name: `${TOKEN_PREFIX}${Date.now()}` })) as
    { key?: unknown } | undefined
  if (typeof created?.key !== 'string' || !created.key)
    throw new InitError(`[POST] /api/serviceaccounts/${account.id}/tokens: answer has no key`)

  await mkdir(dirname(o.tokenFile), { recursive: true })
  const tmp = `${o.tokenFile}.tmp-${process.pid}`
  await writeFile(tmp, created.key + '\n', { mode: 0o600 })
  await rename(tmp, o.tokenFile)
  log(`token written to ${o.tokenFile}`)
  return { token: 'created', serviceAccountId: account.id }
}

async function main(): Promise<void> {
  const env = process.env
  const missing = ['GF_SECURITY_ADMIN_PASSWORD', 'GRAFANA_TOKEN_FILE'].filter((v) => !env[v]?.trim())
  if (missing.length) throw new InitError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required`)
  const r = await initGrafana({
    url: env.GRAFANA_URL?.trim() || 'http://grafana:3000',
    user: env.GF_SECURITY_ADMIN_USER?.trim() || 'admin',
    password: env.GF_SECURITY_ADMIN_PASSWORD!,
    tokenFile: env.GRAFANA_TOKEN_FILE!.trim(),
    log: (line) => process.stderr.write(`grafana-init: ${line}\n`),
  })
  process.stderr.write(`grafana-init: done (token ${r.token})\n`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`grafana-init: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
