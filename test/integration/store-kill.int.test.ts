import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { openJobStore } from '../../jobs/store.ts'
import type { Job, StoreData } from '../../jobs/types.ts'
import { silentLogger } from '../../lib/log.ts'
import { tempDir } from '../support/tmp.ts'
import { setTimeout as sleep } from 'node:timers/promises'

const root = new URL('../..', import.meta.url).pathname

/** Runs the child until `ready`, lets it work for `ms`, kills it with SIGKILL; returns its acknowledged lines. */
async function runAndKill(file: string, round: number, ms: number): Promise<string[]> {
  const child = spawn(process.execPath, [join(root, 'bin/run-ts.mjs'), join(root, 'test/support/store-child.ts'), file, String(round)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.startsWith('ready\n')) resolve()
    })
    void closed.then(() => reject(new Error(`child exited before ready: ${out}`)))
  })
  await sleep(ms)
  child.kill('SIGKILL')
  await closed // reaped: its pid is gone, so its lock is stale
  expect(child.signalCode).toBe('SIGKILL')
  // Only whole lines count as acknowledged.
  return out.slice(0, out.lastIndexOf('\n')).split('\n').slice(1)
}

it('keeps every acknowledged update across kill -9 during journal appends, compactions, snapshots and archiving', async () => {
  const file = join(tempDir('qactivity-store-kill-'), 'jobs.json')
  // Some ballast so a write takes a while and kills land inside writes, not only between them.
  const ballast: StoreData = { version: 1, jobs: {}, outbox: [], nextSeq: 1 }
  for (let i = 0; i < 1500; i++) {
    const at = new Date().toISOString()
    ballast.jobs[`b${i}`] = {
      id: `b${i}`,
      name: `ballast ${i}`,
      cluster: '',
      status: 'running',
      startedAt: at,
      endedAt: null,
      paths: [`/b/${i}`],
      clients: [],
      labels: { k: 'v'.repeat(200) },
      comments: [],
      notify: [],
      annotation: { state: 'off', comments: 0 },
      capacity: [],
      createdBy: 't',
      updatedAt: at,
    }
  }
  writeFileSync(file, JSON.stringify(ballast))

  const comments = new Map<string, string[]>() // job → acknowledged comment texts, all rounds
  const completed: string[] = []
  let replayed = 0 // rounds whose kill left records in the journal
  let appends = 0 // acknowledged journal-path updates (shared jobs), all rounds
  let snapshots = 0 // acknowledged snapshot-path updates (the `-s` job), all rounds
  // Five rounds at least; more (bounded) until a kill also left records in the journal to replay,
  // which on a loaded machine may take longer to come around. (Compaction under a crash is covered
  // by the unit tests: the child reports its compaction count only now and then, so a count here
  // would measure the machine's load, not the store.)
  for (let round = 0; round < 5 || (replayed === 0 && round < 12); round++) {
    const lines = await runAndKill(file, round, (round < 5 ? 300 : 800) + Math.floor(Math.random() * 500))
    for (const line of lines) {
      const [kind, id, text] = line.split(' ')
      if (kind === 'c') comments.set(id, [...(comments.get(id) ?? []), text])
      else if (kind === 'd') completed.push(id)
      else if (kind === 's')
        continue // the child's periodic stats line
      else throw new Error(`unexpected line ${line}`)
    }
    appends += lines.filter((l) => /^c r\d+-j/.test(l)).length
    snapshots += lines.filter((l) => /^c r\d+-s /.test(l)).length

    // The files parse (openJobStore validates them) and hold every acknowledged update, once.
    const store = await openJobStore(file, silentLogger)
    if (store.stats.journalRecords > 0) replayed++
    try {
      for (const [id, texts] of comments) {
        const have = store.data.jobs[id]?.comments.map((c) => c.text) ?? []
        expect(new Set(have).size, `duplicate comments on ${id}`).toBe(have.length)
        const missing = texts.filter((t) => !have.includes(t))
        expect(missing, `round ${round}: acknowledged comments missing on ${id}`).toEqual([])
      }
      const archived = new Map<string, Job>()
      for await (const j of store.listArchived()) {
        expect(archived.has(j.id), `${j.id} listed twice`).toBe(false)
        archived.set(j.id, j)
      }
      for (const id of completed) {
        const inWorking = Object.hasOwn(store.data.jobs, id)
        expect(inWorking || archived.has(id), `round ${round}: acknowledged job ${id} lost`).toBe(true)
        expect(inWorking && archived.has(id), `${id} both working and archived`).toBe(false)
        if (!inWorking) expect((await store.findArchived(id))?.status).toBe('succeeded')
      }
      expect(Object.keys(store.data.jobs).filter((id) => id.startsWith('b'))).toHaveLength(1500)
    } finally {
      await store.close()
    }
  }
  // Both paths ran: journal appends (shared jobs) and full snapshots (the `-s` job, archiving).
  expect(appends).toBeGreaterThan(20)
  expect(snapshots).toBeGreaterThan(2)
  expect(completed.length).toBeGreaterThan(5)
  expect(replayed, 'rounds that ended with records in the journal').toBeGreaterThan(0)
}, 60_000)
