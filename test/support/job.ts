import type { Job } from '../../jobs/types.ts'

/** A completed job with every stored field set; a test gives what it looks at and the rest is neutral. */
export function completedJob(over: Partial<Job> & Pick<Job, 'id' | 'startedAt' | 'endedAt'>): Job {
  return {
    name: 'n',
    cluster: '',
    status: 'succeeded',
    paths: [],
    clients: [],
    labels: {},
    comments: [],
    notify: [],
    annotation: { state: 'off', comments: 0 },
    capacity: [],
    createdBy: 't',
    updatedAt: '',
    ...over,
  }
}
