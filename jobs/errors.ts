/** What went wrong with a job operation; the HTTP layer maps each kind to its status (api/errors.ts). */
export type JobErrorCode = 'invalid_request' | 'not_found' | 'conflict'

/** An expected refusal of a job operation: bad input, no such job, or a conflict with its state. */
export class JobError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
    this.name = 'JobError'
  }
}
