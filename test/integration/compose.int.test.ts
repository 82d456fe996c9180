import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnSync, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, posix, relative, resolve } from 'node:path'
import { parse } from 'yaml'
import { initGrafana } from '../../scripts/grafana-init.ts'
import { grafanaSinkFor } from '../../api/server.ts'
import { GrafanaApiError } from '../../api/annotations/grafana.ts'

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '')
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8')
/** `dist/x/y.js` → `x/y.ts`, as tsconfig.build.json compiles it. */
const sourceOf = (built: string) => built.replace(/^dist\//, '').replace(/\.js$/, '.ts')

// No Docker engine runs here; Debian's docker-compose validates the file offline (platform.md).
function config(args: string[], env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args, 'config'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  })
}

type Service = {
  image?: string
  build?: unknown
  profiles?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  entrypoint?: string[]
  restart?: string
}

const secrets = {
  INFLUX_TOKEN: 'test-token',
  INFLUX_ADMIN_PASSWORD: 'test-password',
  QACTIVITY_API_TOKENS: 'ci:0123456789abcdef',
  GF_ADMIN_PASSWORD: 'test-grafana-password',
}

describe('docker-compose.yml', () => {
  let services: Record<string, Service>

  beforeAll(() => {
    const demo = config(['--profile', 'demo'], secrets)
    expect(demo.stderr).toBe('')
    expect(demo.status).toBe(0)
    services = (parse(demo.stdout) as { services: Record<string, Service> }).services
  })

  it('validates, with and without the demo profile', () => {
    const plain = config([], secrets)
    expect(plain.stderr).toBe('')
    expect(plain.status).toBe(0)
    expect(plain.stdout).toContain('influxdb:2.7.11')
    // docker-compose 1.29 renders profiled services too; these must sit in the demo profile
    const rendered = (parse(plain.stdout) as { services: Record<string, Service> }).services
    for (const s of ['qumulo-simulator', 'mailpit']) expect(rendered[s]?.profiles, s).toEqual(['demo'])
    for (const s of ['influxdb', 'grafana', 'grafana-init', 'qactivity']) expect(rendered[s]?.profiles, s).toBeUndefined()
    expect(Object.keys(services).sort()).toEqual(['grafana', 'grafana-init', 'influxdb', 'mailpit', 'qactivity', 'qumulo-simulator'])
  })

  it('refuses to render without the secrets: one line naming the first one missing, no dump of a whole block', () => {
    const r = config([], {})
    expect(r.status).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/: set INFLUX_TOKEN in \.env \(cp \.env\.example \.env; README, Deploying with Docker\)\n$/)
    expect(r.stderr).not.toContain("{'") // docker-compose 1.x's rendering of a Python dict
    for (const name of Object.keys(secrets)) {
      const one = config(['--profile', 'demo'], { ...secrets, [name]: '' })
      expect(one.status, name).not.toBe(0)
      expect(one.stderr.trim().split('\n'), name).toHaveLength(1)
      expect(one.stderr, name).toMatch(new RegExp(`: set ${name} .*in \\.env`))
    }
  })

  it('with .env.example as .env (secrets filled in), the demo profile polls the simulator, with credentials it accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qactivity-env-'))
    try {
      const file = join(dir, '.env')
      const filled = read('.env.example').replace(/^([A-Z_]+)=$/gm, (line, name: string) =>
        name in secrets ? `${name}=${secrets[name as keyof typeof secrets]}` : line,
      )
      writeFileSync(file, filled + 'QUMULO_USERNAME=demo-user\nQUMULO_PASSWORD=demo-password\n')
      const r = config(['--env-file', file, '--profile', 'demo'], {})
      expect(r.stderr).toBe('')
      const rendered = (parse(r.stdout) as { services: Record<string, Service & { command: string[] }> }).services
      expect(rendered.qactivity.environment!.QUMULO_URL).toBe('http://qumulo-simulator:8000')
      const command = rendered['qumulo-simulator'].command
      expect(command[command.indexOf('--user') + 1]).toBe('demo-user:demo-password')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('has no fallback Qumulo credentials for qactivity', () => {
    const env = services.qactivity.environment!
    expect([env.QUMULO_TOKEN, env.QUMULO_USERNAME, env.QUMULO_PASSWORD]).toEqual(['', '', ''])
  })

  it('the image runs as an unprivileged user', () => {
    const users = [...read('Dockerfile').matchAll(/^USER (\S+)$/gm)].map((m) => m[1])
    expect(users.at(-1)).toBeDefined()
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/)
  })

  it('pins every image to a version (no latest, no bare name); the others are built from the Dockerfile', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image === undefined) {
        expect(s.build, name).toBeDefined()
        continue
      }
      expect(s.image, name).toMatch(/^[a-z0-9./_-]+:v?\d+\.\d+\.\d+$/)
    }
    expect(services.grafana.image).toMatch(/^grafana\/grafana:12\./) // the SDK's schemaVersion 42 needs Grafana 12
    expect(services.influxdb.image).toBe('influxdb:2.7.11')
  })

  it('gives every long-running service a health check; the one-shot init is awaited to completion', () => {
    const oneShots = new Set(
      Object.values(services).flatMap((s) =>
        Object.entries(s.depends_on ?? {})
          .filter(([, d]) => d.condition === 'service_completed_successfully')
          .map(([n]) => n),
      ),
    )
    expect([...oneShots]).toEqual(['grafana-init'])
    expect(services['grafana-init'].restart).toBe('no')
    for (const [name, s] of Object.entries(services)) {
      if (oneShots.has(name)) continue
      expect(s.healthcheck?.test?.length, name).toBeGreaterThan(0)
    }
    expect(services.grafana.healthcheck!.test.join(' ')).toContain('/api/health')
    expect(services['grafana-init'].depends_on).toEqual({ grafana: { condition: 'service_healthy' } })
    expect(services.qactivity.depends_on).toEqual({
      influxdb: { condition: 'service_healthy' },
      'grafana-init': { condition: 'service_completed_successfully' },
    })
  })

  it('hands the init service token to qactivity through a shared volume, read-only on its side', () => {
    const env = services.qactivity.environment!
    expect(env.GRAFANA_URL).toBe('http://grafana:3000')
    expect(env.GRAFANA_TOKEN).toBeUndefined()
    expect(env.SMTP_URL).toBe('')
    const initFile = services['grafana-init'].environment!.GRAFANA_TOKEN_FILE
    expect(env.GRAFANA_TOKEN_FILE).toBe(initFile)
    const dir = posix.dirname(initFile)
    expect(services['grafana-init'].volumes).toContain(`grafana-token:${dir}:rw`)
    expect(services.qactivity.volumes).toContain(`grafana-token:${dir}:ro`)
    expect(services['grafana-init'].environment!.GF_SECURITY_ADMIN_PASSWORD).toBe(services.grafana.environment!.GF_SECURITY_ADMIN_PASSWORD)
  })

  it('the Dockerfile copies every source directory the executable and the init script import', () => {
    const copied = new Set([...read('Dockerfile').matchAll(/^COPY (\S+) /gm)].map((m) => m[1]))
    // the image's entrypoint, and the files grafana-init's entrypoint runs
    const [cmd, ...args] = services['grafana-init'].entrypoint!
    expect(cmd).toBe('node')
    expect(args).toEqual(['dist/scripts/grafana-init.js'])
    const seen = new Set<string>()
    // the image builds dist/ from these sources
    const todo = ['cli/main.ts', sourceOf(args[0])]
    while (todo.length) {
      const file = todo.pop()!
      if (seen.has(file)) continue
      seen.add(file)
      for (const m of read(file).matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(ROOT, resolve(ROOT, dirname(file), m[1]))
        if (/\.(ts|mjs|js)$/.test(target)) todo.push(target)
      }
    }
    for (const file of seen) {
      const top = file.split('/')[0]
      expect(copied.has(top) || copied.has(file), file).toBe(true)
    }
    expect(read('Dockerfile')).toContain('COPY bin/qactivity.mjs bin/qactivity.mjs')
    expect(seen.has('stats/service.ts')).toBe(true) // the walk follows api/ into stats/
  })
})

describe('provisioning/', () => {
  const datasources = parse(read('provisioning/datasources/influxdb.yaml')) as {
    apiVersion: number
    datasources: Array<Record<string, unknown> & { jsonData: Record<string, unknown>; secureJsonData: Record<string, unknown> }>
  }
  const dashboards = parse(read('provisioning/dashboards/qactivity.yaml')) as {
    apiVersion: number
    providers: Array<Record<string, unknown> & { options: Record<string, unknown> }>
  }
  let grafana: Service

  beforeAll(() => {
    const r = config([], secrets)
    expect(r.status).toBe(0)
    grafana = (parse(r.stdout) as { services: Record<string, Service> }).services.grafana
  })

  // The keys Grafana's provisioning documentation lists (administration/provisioning).
  const DATASOURCE_KEYS = [
    'name',
    'type',
    'access',
    'orgId',
    'uid',
    'url',
    'user',
    'database',
    'basicAuth',
    'basicAuthUser',
    'withCredentials',
    'isDefault',
    'jsonData',
    'secureJsonData',
    'version',
    'editable',
  ]
  const PROVIDER_KEYS = [
    'name',
    'orgId',
    'folder',
    'folderUid',
    'type',
    'disableDeletion',
    'updateIntervalSeconds',
    'allowUiUpdates',
    'options',
  ]

  it('declares the InfluxQL and Flux data sources in the documented format, by fixed uid', () => {
    expect(datasources.apiVersion).toBe(1)
    for (const ds of datasources.datasources) {
      for (const k of Object.keys(ds)) expect(DATASOURCE_KEYS, `${String(ds.name)}.${k}`).toContain(k)
      expect(ds).toMatchObject({ type: 'influxdb', access: 'proxy', url: '${INFLUX_URL}' })
    }
    expect(datasources.datasources.map((d) => d.uid).sort()).toEqual(['qactivity-flux', 'qactivity-influxql'])
    expect(datasources.datasources.filter((d) => d.isDefault === true)).toHaveLength(1)

    const influxql = datasources.datasources.find((d) => d.uid === 'qactivity-influxql')!
    // InfluxDB 2.x through the v1 compatibility API: database = bucket (virtual DBRP), token in a custom header.
    expect(influxql.jsonData).toMatchObject({ version: 'InfluxQL', dbName: '${INFLUX_BUCKET}', httpHeaderName1: 'Authorization' })
    expect(influxql.secureJsonData).toEqual({ httpHeaderValue1: 'Token ${INFLUX_TOKEN}' })

    const flux = datasources.datasources.find((d) => d.uid === 'qactivity-flux')!
    expect(flux.jsonData).toMatchObject({ version: 'Flux', organization: '${INFLUX_ORG}', defaultBucket: '${INFLUX_BUCKET}' })
    expect(flux.secureJsonData).toEqual({ token: '${INFLUX_TOKEN}' })
  })

  it('provides the dashboards from the two mounted folders, one Grafana folder per flavour', () => {
    expect(dashboards.apiVersion).toBe(1)
    for (const p of dashboards.providers) {
      for (const k of Object.keys(p)) expect(PROVIDER_KEYS, `${String(p.name)}.${k}`).toContain(k)
      expect(Object.keys(p.options).sort()).toEqual(['foldersFromFilesStructure', 'path'])
      expect(p).toMatchObject({ type: 'file', options: { foldersFromFilesStructure: false } })
    }
    expect(new Set(dashboards.providers.map((p) => p.name)).size).toBe(dashboards.providers.length)
    const byFolder = Object.fromEntries(dashboards.providers.map((p) => [p.folder, p.options.path]))
    expect(byFolder).toEqual({
      'qactivity (InfluxQL)': '/etc/grafana/provisioning/dashboards/influxql',
      'qactivity (Flux)': '/etc/grafana/provisioning/dashboards/flux',
    })

    // provisioning/ is what the grafana service mounts at /etc/grafana/provisioning, so each path is a folder of it.
    const mount = grafana.volumes!.map((v) => v.split(':')).find(([, target]) => target === '/etc/grafana/provisioning')
    expect(mount).toBeDefined()
    expect(mount![0]).toBe(join(ROOT, 'provisioning'))
    expect(mount![2]).toBe('ro')
    for (const path of Object.values(byFolder)) {
      const local = join(mount![0], posix.relative('/etc/grafana/provisioning', String(path)))
      expect(existsSync(local) && statSync(local).isDirectory(), local).toBe(true)
    }
  })

  it('passes every variable the provisioning files use to the grafana container', () => {
    const used = new Set<string>()
    for (const f of ['provisioning/datasources/influxdb.yaml', 'provisioning/dashboards/qactivity.yaml']) {
      // Grafana expands $VAR and ${VAR} in values; comments do not count.
      const text = read(f).replace(/^\s*#.*$/gm, '')
      for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g)) used.add(m[1] ?? m[2])
    }
    expect([...used].sort()).toEqual(['INFLUX_BUCKET', 'INFLUX_ORG', 'INFLUX_TOKEN', 'INFLUX_URL', 'QACTIVITY_POLL_SECONDS'])
    for (const v of used) {
      expect(grafana.environment, v).toHaveProperty(v)
      expect(grafana.environment![v], v).not.toBe('')
    }
    expect(grafana.environment!.INFLUX_URL).toBe('http://influxdb:8086')
  })
})

// A Grafana that answers the service-account and annotation routes the way the HTTP API documents them.
class FakeGrafana {
  server: Server
  url = ''
  healthFailures = 0
  password = 'admin-secret'
  accounts = new Map<number, { id: number; name: string; role: string; isDisabled: boolean }>()
  tokens = new Map<string, { id: number; saId: number; name: string }>()
  annotations: Array<{ auth: string; body: unknown }> = []
  calls: string[] = []
  private nextId = 1

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res))
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()))
    const a = this.server.address()
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()))
  }
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {}
    const u = new URL(req.url ?? '/', 'http://x')
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(json))
    }
    this.calls.push(`${req.method} ${u.pathname}`)
    const auth = req.headers.authorization ?? ''
    if (u.pathname === '/api/health')
      return this.healthFailures-- > 0 ? send(503, { database: 'failing' }) : send(200, { database: 'ok', version: '12.4.12' })
    if (u.pathname.startsWith('/api/serviceaccounts')) {
      if (auth !== 'Basic ' + Buffer.from(`admin:${this.password}`).toString('base64'))
        return send(401, { message: 'Invalid username or password' })
      const parts = u.pathname.split('/').slice(3) // after /api/serviceaccounts
      if (req.method === 'GET' && parts[0] === 'search') {
        const q = u.searchParams.get('query') ?? ''
        const found = [...this.accounts.values()].filter((a) => a.name.includes(q))
        return send(200, { totalCount: found.length, serviceAccounts: found, page: 1, perPage: 100 })
      }
      if (req.method === 'POST' && parts.length === 0) {
        if ([...this.accounts.values()].some((a) => a.name === body.name)) return send(400, { message: 'service account already exists' })
        const a = { id: this.nextId++, name: String(body.name), role: String(body.role), isDisabled: body.isDisabled === true }
        this.accounts.set(a.id, a)
        return send(201, { ...a, login: `sa-${a.name}`, orgId: 1 })
      }
      const account = this.accounts.get(Number(parts[0]))
      if (!account) return send(404, { message: 'not found' })
      if (req.method === 'PATCH' && parts.length === 1) {
        Object.assign(account, { role: body.role ?? account.role, isDisabled: body.isDisabled ?? account.isDisabled })
        return send(200, account)
      }
      if (parts[1] === 'tokens') {
        const mine = [...this.tokens.entries()].filter(([, t]) => t.saId === account.id)
        if (req.method === 'GET')
          return send(
            200,
            mine.map(([, t]) => ({ id: t.id, name: t.name, expiration: null, hasExpired: false })),
          )
        if (req.method === 'POST') {
          if (mine.some(([, t]) => t.name === body.name)) return send(400, { message: 'token name taken' })
          const key = `glsa_${Math.random().toString(36).slice(2)}_${this.nextId}`
          this.tokens.set(key, { id: this.nextId++, saId: account.id, name: String(body.name) })
          return send(200, { id: this.nextId - 1, name: body.name, key })
        }
        if (req.method === 'DELETE') {
          for (const [k, t] of mine) if (t.id === Number(parts[2])) this.tokens.delete(k)
          return send(200, { message: 'API key deleted' })
        }
      }
      return send(404, { message: 'not found' })
    }
    if (u.pathname === '/api/annotations') {
      const t = this.tokens.get(auth.replace(/^Bearer /, ''))
      const sa = t && this.accounts.get(t.saId)
      if (!sa || sa.isDisabled) return send(401, { message: 'invalid API key' })
      if (req.method === 'GET') return send(200, [])
      if (sa.role === 'Viewer') return send(403, { message: 'forbidden' })
      this.annotations.push({ auth, body })
      return send(200, { id: this.annotations.length, message: 'Annotation added' })
    }
    send(404, { message: 'not found' })
  }
}

describe('grafana-init (the one-shot service) and GRAFANA_TOKEN_FILE', () => {
  const grafana = new FakeGrafana()
  let dir: string
  let tokenFile: string
  beforeAll(async () => {
    await grafana.start()
    dir = await mkdtemp(join(tmpdir(), 'qactivity-grafana-init-'))
    tokenFile = join(dir, 'shared', 'token')
  })
  afterAll(async () => {
    await grafana.stop()
    await rm(dir, { recursive: true, force: true })
  })
  const opts = () => ({ url: grafana.url, user: 'admin', password: grafana.password, tokenFile, pollMs: 10 })

  it('waits for Grafana, creates the Editor service account and a token, and writes it 0600', async () => {
    grafana.healthFailures = 3
    const r = await initGrafana(opts())
    expect(r.token).toBe('created')
    expect([...grafana.accounts.values()]).toEqual([{ id: r.serviceAccountId, name: 'qactivity', role: 'Editor', isDisabled: false }])
    const token = (await readFile(tokenFile, 'utf8')).trim()
    expect(grafana.tokens.get(token)?.saId).toBe(r.serviceAccountId)
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600)
    expect(grafana.calls.filter((c) => c === 'GET /api/health')).toHaveLength(4)
  })

  it('is idempotent: a valid token is kept, a drifted account is repaired, a refused token is replaced', async () => {
    const first = (await readFile(tokenFile, 'utf8')).trim()
    expect((await initGrafana(opts())).token).toBe('kept')
    expect((await readFile(tokenFile, 'utf8')).trim()).toBe(first)
    expect(grafana.accounts.size).toBe(1)

    const account = [...grafana.accounts.values()][0]
    account.role = 'Viewer'
    expect((await initGrafana(opts())).token).toBe('kept')
    expect(account.role).toBe('Editor')

    grafana.tokens.clear() // e.g. revoked in the UI
    expect((await initGrafana(opts())).token).toBe('created')
    const second = (await readFile(tokenFile, 'utf8')).trim()
    expect(second).not.toBe(first)
    await writeFile(tokenFile, 'glsa_garbage\n')
    expect((await initGrafana(opts())).token).toBe('created')
    // the tokens of earlier runs are deleted: only the current one is left
    expect([...grafana.tokens.keys()]).toEqual([(await readFile(tokenFile, 'utf8')).trim()])
    expect(grafana.accounts.size).toBe(1)
  })

  it('fails in one line when the admin password is wrong or Grafana never comes up', async () => {
    await expect(initGrafana({ ...opts(), password: 'wrong', tokenFile: join(dir, 'other') })).rejects.toThrow(
      /serviceaccounts.*401.*GF_SECURITY_ADMIN_PASSWORD/,
    )
    grafana.healthFailures = 1000
    await expect(initGrafana({ ...opts(), waitSeconds: 0.2 })).rejects.toThrow(/api\/health: not ready after 0.2 s \(answered 503\)/)
    grafana.healthFailures = 0
  })

  it('runs as docker-compose.yml starts it, with the compose environment', async () => {
    const rendered = (parse(config([], secrets).stdout) as { services: Record<string, Service> }).services['grafana-init']
    const [cmd, built] = rendered.entrypoint!
    // dist/ exists only in the image (and packed installs): the test runs the source it is built from
    const args = [join(ROOT, 'bin/run-ts.mjs'), sourceOf(built)]
    const file = join(dir, 'from-compose', 'token')
    const env = {
      ...rendered.environment,
      GRAFANA_URL: grafana.url,
      GF_SECURITY_ADMIN_PASSWORD: grafana.password,
      GRAFANA_TOKEN_FILE: file,
    }
    const run = (e: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((done) => {
        const p = spawn(cmd === 'node' ? process.execPath : cmd, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...e } })
        let stderr = ''
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
        p.on('close', (code) => done({ code, stderr }))
      })
    const ok = await run(env)
    expect(ok.stderr).toMatch(/grafana-init: done \(token (created|kept)\)\n$/)
    expect(ok.code).toBe(0)
    expect(grafana.tokens.has((await readFile(file, 'utf8')).trim())).toBe(true)
    const bad = await run({ ...env, GF_SECURITY_ADMIN_PASSWORD: '' })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe('grafana-init: GF_SECURITY_ADMIN_PASSWORD is required\n')
  })

  const tokenFileReread =
    'qactivity reads GRAFANA_TOKEN_FILE at each delivery: missing is a retriable configuration error, a new token is used at once'
  it(tokenFileReread, async () => {
    const file = join(dir, 'late', 'token')
    const sink = grafanaSinkFor({ url: grafana.url, tokenFile: file })!
    const annotation = { time: 1_700_000_000_000, tags: ['qactivity', 'job:j1'], text: 'j1' }
    const missing = await sink.create(annotation).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(missing).toBeInstanceOf(GrafanaApiError)
    expect(missing).toMatchObject({ retriable: true, configError: true })
    expect((missing as Error).message).toBe(`GRAFANA_TOKEN_FILE: "${file}" cannot be read (ENOENT)`)

    await initGrafana({ ...opts(), tokenFile: file })
    const token = (await readFile(file, 'utf8')).trim()
    expect(await sink.create(annotation)).toBeGreaterThan(0)
    expect(grafana.annotations.at(-1)?.auth).toBe(`Bearer ${token}`)

    await writeFile(file, '\n')
    await expect(sink.find({ tags: ['qactivity'], from: 0, to: 1 })).rejects.toMatchObject({
      retriable: true,
      configError: true,
      message: `GRAFANA_TOKEN_FILE: "${file}" is empty`,
    })
    grafana.tokens.clear()
    await initGrafana({ ...opts(), tokenFile: file })
    const rotated = (await readFile(file, 'utf8')).trim()
    expect(rotated).not.toBe(token)
    await sink.create(annotation)
    expect(grafana.annotations.at(-1)?.auth).toBe(`Bearer ${rotated}`)

    // GRAFANA_TOKEN wins; no URL, no sink
    expect(grafanaSinkFor({ url: undefined, tokenFile: file })).toBeUndefined()
    expect(grafanaSinkFor({ url: grafana.url, token: 'glsa_env', tokenFile: undefined })).toBeDefined()
  })
})
