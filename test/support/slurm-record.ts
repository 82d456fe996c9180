import type { SlurmRecord } from '../../slurm/records.ts'

/** A running Slurm job's record (job 42, started 2027-01-15T08:00Z on n[01-02]); `over` sets the rest. */
export function slurmRecord(over: Partial<SlurmRecord> = {}): SlurmRecord {
  const jobId = over.jobId ?? 42
  return {
    id: String(jobId),
    jobId,
    restarts: 0,
    name: 'render',
    user: 'ana',
    account: 'vfx',
    partition: 'gpu',
    state: 'RUNNING',
    startedAt: '2027-01-15T08:00:00.000Z',
    exitCode: 0,
    signal: 0,
    nodes: 'n[01-02]',
    workDir: '/mnt/qumulo/projects/x',
    ...over,
  }
}
