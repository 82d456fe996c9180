// Child process for the job store kill -9 test: `store-child.ts <file> <round>`. Opens the store,
// prints `ready`, then runs 20 concurrent loops appending comments to 5 shared jobs plus one loop
// that creates already-completed jobs and archives them, until it is killed. One line per
// ACKNOWLEDGED (resolved) update on stdout:
//   `c <job> <text>`   the comment <text> is on job <job>
//   `d <job>`          job <job> exists (in the working set or the archive)
import { openJobStore } from '../../api/store.ts'
import type { Job } from '../../api/types.ts'
import { silentLogger } from '../../lib/log.ts'

const [file, round] = process.argv.slice(2)
const store = await openJobStore(file, silentLogger)
const ack = (line: string) => process.stdout.write(line + '\n') // synchronous on a pipe (Linux)
const now = () => new Date().toISOString()

function job(id: string, over: Partial<Job> = {}): Job {
  const at = now()
  return {
    id, name: id, status: 'running', startedAt: at, endedAt: null, paths: [`/jobs/${id}`], clients: ['10.0.0.1'],
    labels: {}, comments: [], notify: [], annotation: { state: 'off', comments: 0 }, capacity: [], createdBy: 'child',
    updatedAt: at, ...over,
  }
}

async function commenter(loop: number): Promise<never> {
  for (let n = 0; ; n++) {
    const id = `r${round}-j${loop % 5}`
    const text = `r${round}-l${loop}-n${n}`
    await store.update((d) => {
      const j = (d.jobs[id] ??= job(id))
      j.comments.push({ at: now(), author: 'child', text })
      j.updatedAt = now()
    })
    ack(`c ${id} ${text}`)
  }
}

async function archiver(): Promise<never> {
  for (let n = 0; ; n++) {
    const id = `r${round}-done${n}`
    await store.update((d) => {
      d.jobs[id] = job(id, { status: 'succeeded', startedAt: '2020-01-01T00:00:00.000Z', endedAt: '2020-01-01T01:00:00.000Z' })
    })
    ack(`d ${id}`)
    if (n % 3 === 2) await store.archive(new Date())
  }
}

ack('ready')
await Promise.all([...Array.from({ length: 20 }, (_, i) => commenter(i)), archiver()])
