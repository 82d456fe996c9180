// Child process for the job store kill -9 test: `store-child.ts <file> <round>`. Opens the store
// with a small compaction threshold, prints `ready`, then runs until it is killed:
//  - 20 loops appending comments to 5 shared jobs with update(fn, [id]) (the journal path, with
//    compactions — snapshot, then journal cut — under way all the time);
//  - 1 loop appending comments to its own job with update(fn) (the full-snapshot path), pausing a
//    little between updates so the journal path is not drowned;
//  - 1 loop that creates already-completed jobs (journal) and now and then archives them (a
//    snapshot that deletes jobs).
// One line per ACKNOWLEDGED (resolved) update on stdout:
//   `c <job> <text>`   the comment <text> is on job <job>
//   `d <job>`          job <job> exists (in the working set or the archive)
// and every 20 ms `s <journalRecords> <compactions> <snapshots>` (the store's counters).
import { openJobStore } from '../../jobs/store.ts'
import type { Job, StoreData } from '../../jobs/types.ts'
import { silentLogger } from '../../lib/log.ts'
import { setTimeout as sleep } from 'node:timers/promises'

const [file, round] = process.argv.slice(2)
const store = await openJobStore(file, silentLogger, { compactRecords: 40, compactBytes: 256 << 10 })
const ack = (line: string) => process.stdout.write(line + '\n') // synchronous on a pipe (Linux)
const now = () => new Date().toISOString()

function job(id: string, over: Partial<Job> = {}): Job {
  const at = now()
  return {
    id,
    name: id,
    cluster: '',
    status: 'running',
    startedAt: at,
    endedAt: null,
    paths: [`/jobs/${id}`],
    clients: ['10.0.0.1'],
    labels: {},
    comments: [],
    notify: [],
    annotation: { state: 'off', comments: 0 },
    capacity: [],
    createdBy: 'child',
    updatedAt: at,
    ...over,
  }
}

async function commenter(loop: number, journal: boolean): Promise<never> {
  for (let n = 0; ; n++) {
    const id = journal ? `r${round}-j${loop % 5}` : `r${round}-s`
    const text = `r${round}-l${loop}-n${n}`
    const fn = (d: StoreData) => {
      const j = (d.jobs[id] ??= job(id))
      j.comments.push({ at: now(), author: 'child', text })
      j.updatedAt = now()
      d.nextSeq++
    }
    await (journal ? store.update(fn, [id]) : store.update(fn))
    ack(`c ${id} ${text}`)
    if (!journal) await sleep(15)
  }
}

async function archiver(): Promise<never> {
  for (let n = 0; ; n++) {
    const id = `r${round}-done${n}`
    await store.update(
      (d) => {
        d.jobs[id] = job(id, { status: 'succeeded', startedAt: '2020-01-01T00:00:00.000Z', endedAt: '2020-01-01T01:00:00.000Z' })
      },
      [id],
    )
    ack(`d ${id}`)
    if (n % 5 === 4) await store.archive(new Date())
    await sleep(5)
  }
}

ack('ready')
setInterval(() => ack(`s ${store.stats.journalRecords} ${store.stats.compactions} ${store.stats.snapshots}`), 20)
await Promise.all([...Array.from({ length: 20 }, (_, i) => commenter(i, true)), commenter(20, false), archiver()])
