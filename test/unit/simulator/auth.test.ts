import { afterEach, describe, expect, it } from 'vitest'
import type { RunningSimulator } from '../../../simulator/server.ts'
import { ACCESS_TOKEN, call, manualClock, startTestSimulator } from './helpers.ts'

let sim: RunningSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const login = (username: string, password: string) =>
  fetch(`${sim!.url}/v1/session/login`, {
    method: 'POST',
    body: JSON.stringify({ username, password }),
    headers: { 'content-type': 'application/json' },
  })

const withToken = (token: string) => fetch(`${sim!.url}/v1/file-system`, { headers: { authorization: `Bearer ${token}` } })

describe('simulator authentication', () => {
  it('serves /v1/version without a token', async () => {
    sim = await startTestSimulator({})
    const res = await fetch(`${sim.url}/v1/version`)
    expect(await res.json()).toMatchObject({ revision_id: expect.stringMatching(/^Qumulo Core /) })
  })

  it('answers 401 with an empty body for a missing, unknown or expired token', async () => {
    sim = await startTestSimulator({})
    const headerSets: Array<Record<string, string>> = [{}, { authorization: 'Bearer session-v1:nope' }, { authorization: ACCESS_TOKEN }]
    for (const headers of headerSets) {
      const res = await fetch(`${sim.url}/v1/file-system`, { headers })
      expect(res.status).toBe(401)
      expect(await res.text()).toBe('')
    }
    expect((await call(sim, '/v1/file-system')).status).toBe(200)
  })

  it('logs in with a session-v1 token that expires after the token lifetime', async () => {
    const clock = manualClock()
    sim = await startTestSimulator({}, { clock: clock.now, faults: { tokenLifetimeSeconds: 60 }, users: { svc: 'pw' } })
    const res = await login('svc', 'pw')
    const { bearer_token: token } = (await res.json()) as { bearer_token: string }
    expect(token).toMatch(/^session-v1:\S+$/)
    expect((await withToken(token)).status).toBe(200)
    clock.advanceSeconds(60)
    expect((await withToken(token)).status).toBe(401)
  })

  it('forgets every session on expireSessions() but keeps access tokens', async () => {
    sim = await startTestSimulator({})
    const { bearer_token: token } = (await (await login('admin', 'admin')).json()) as { bearer_token: string }
    sim.expireSessions()
    expect((await withToken(token)).status).toBe(401)
    expect((await withToken(ACCESS_TOKEN)).status).toBe(200)
  })

  it('refuses a wrong password with 401 and a malformed login body with 400', async () => {
    sim = await startTestSimulator({})
    expect((await login('admin', 'wrong')).status).toBe(401)
    expect((await login('nobody', 'admin')).status).toBe(401)
    const res = await fetch(`${sim.url}/v1/session/login`, { method: 'POST', body: 'not json' })
    expect(res.status).toBe(400)
    expect(sim.requests['POST /v1/session/login']).toBe(3)
  })

  it('answers the configured fraction of authenticated requests with a 503 envelope', async () => {
    sim = await startTestSimulator({}, { faults: { errorRate: 1 } })
    const res = await call(sim, '/v1/file-system')
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error_class: 'simulated_fault_error', stack: [], user_visible: true })
    expect((await fetch(`${sim.url}/v1/version`)).status).toBe(200)
    sim.setFaults({ errorRate: 0 })
    expect((await call(sim, '/v1/file-system')).status).toBe(200)
  })

  it('rejects non-canonical paths with a 404 envelope', async () => {
    sim = await startTestSimulator({})
    const res = await call(sim, '/v1/file-system/')
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error_class: expect.any(String) })
  })
})
