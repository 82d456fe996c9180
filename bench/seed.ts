import { newJobId } from '../jobs/ids.ts'
import type { Job } from '../jobs/types.ts'

// Seed data: jobs shaped like a render farm's and a cluster's, started over the last 25 days
// (inside the 30-day retention, so nothing is archived at start), two comments each.

const DAY = 86_400_000
const QUEUES = ['gpu', 'cpu', 'bigmem']
const SHOWS = ['sq010', 'sq020', 'sq030', 'sq045', 'sq100', 'tr-2026']

/** `count` jobs, the last `running` of them running (started in the last 6 hours), ascending start times. */
export function seedJobs(count: number, running: number, now = Date.now()): Job[] {
  const jobs: Job[] = []
  const iso = (ms: number) => new Date(ms).toISOString()
  for (let i = 0; i < count; i++) {
    const isRunning = i >= count - running
    // ascending start times (newJobId is monotonic); running jobs started in the last 6 hours
    const start = isRunning
      ? now - 6 * 3_600_000 + Math.floor((i - (count - running)) * ((6 * 3_600_000) / running))
      : now - 25 * DAY + Math.floor(i * ((25 * DAY - 7 * 3_600_000) / count))
    const end = isRunning ? null : start + 600_000 + ((i * 7919) % (6 * 3_600_000))
    const id = i % 3 === 0 ? `slurm-${4_800_000 + i}` : newJobId(start)
    const user = `user${i % 120}`
    const show = SHOWS[i % SHOWS.length]
    const paths = [
      `/render/${show}/shot${String(i % 200).padStart(3, '0')}`,
      `/scratch/${user}/job-${i}`,
      ...(i % 4 === 0 ? [`/projects/proj-${i % 40}/cache`] : []),
    ]
    const clients = [
      `10.${1 + (i % 4)}.${(i >> 2) % 256}.${(i % 250) + 1}`,
      `10.${1 + (i % 4)}.${(i >> 3) % 256}.${((i + 17) % 250) + 1}`,
      ...(i % 3 === 0 ? [`10.20.${i % 256}.0/24`] : []),
    ]
    const reading = (at: number, k: number) => ({
      at: iso(at),
      usedBytes: String(1_000_000_000 + i * 4096 * k),
      files: String(10_000 + i * k),
      directories: String(100 + (i % 50) * k),
    })
    jobs.push({
      id,
      cluster: 'bench',
      name: i % 2 ? `render-${show}-shot${String(i % 200).padStart(3, '0')}` : `train-model-${i % 90}`,
      status: isRunning ? 'running' : i % 17 === 0 ? 'failed' : 'succeeded',
      startedAt: iso(start),
      endedAt: end === null ? null : iso(end),
      paths,
      clients,
      labels: { project: `proj-${i % 40}`, user, queue: QUEUES[i % 3] },
      comments: [
        { at: iso(start + 1000), author: 'render-farm', text: `submitted by ${user} to ${QUEUES[i % 3]}, ${8 + (i % 56)} nodes` },
        {
          at: iso((end ?? start) + 2000),
          author: 'render-farm',
          text: isRunning ? 'frames 1-120 rendered' : `finished: ${240 + (i % 960)} frames, ${i % 5} retries`,
        },
      ],
      notify: i % 5 === 0 ? [`${user}@example.com`] : [],
      annotation: { state: 'off', comments: 0 },
      capacity: isRunning
        ? paths.map((path) => ({ path, start: reading(start, 1) }))
        : paths.map((path) => ({ path, start: reading(start, 1), end: reading(end!, 2) })),
      createdBy: 'render-farm',
      updatedAt: iso(end ?? start + 2000),
    })
  }
  return jobs
}
