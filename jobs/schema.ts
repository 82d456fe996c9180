import { z } from '@hono/zod-openapi'
import { JOB_STATUSES } from './types.ts'

/**
 * The stored job (jobs/types.ts) as a schema: validates the job store's file and documents the
 * job in the OpenAPI document (api/schemas.ts re-exports it). `z` is zod with OpenAPI metadata.
 */

const Reading = z.object({ at: z.string(), usedBytes: z.string(), files: z.string(), directories: z.string() })

export const JobSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    cluster: z.string().default('').openapi({ description: 'the `cluster` tag its points carry; "" when the API knows no cluster' }),
    status: z.enum(JOB_STATUSES),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
    paths: z.array(z.string()),
    clients: z.array(z.string()),
    labels: z.record(z.string(), z.string()),
    comments: z.array(z.object({ at: z.string(), author: z.string(), text: z.string() })),
    notify: z.array(z.string()),
    annotation: z.object({
      state: z.enum(['off', 'pending', 'synced', 'failing']),
      id: z.number().optional(),
      comments: z.number(),
      lastError: z.string().optional(),
    }),
    capacity: z.array(z.object({ path: z.string(), start: Reading.optional(), end: Reading.optional(), error: z.string().optional() })),
    error: z
      .string()
      .optional()
      .openapi({ description: "why the collector cannot measure some of the job's paths (not a directory on Qumulo)" }),
    backfill: z
      .object({ until: z.string(), from: z.string().optional() })
      .optional()
      .openapi({ description: 'a backfill of the job series from raw points, pending since clients or paths were attached late' }),
    summary: z
      .object({
        state: z.enum(['pending', 'done']),
        computedAt: z.string().optional(),
        lastError: z.string().optional(),
        stats: z.record(z.string(), z.unknown()).optional(),
      })
      .optional(),
    report: z
      .object({
        state: z.enum(['pending', 'sent', 'failing', 'failed']),
        to: z.array(z.string()),
        attempts: z.number(),
        lastError: z.string().optional(),
        sentAt: z.string().optional(),
        completion: z.boolean().optional(),
      })
      .optional(),
    createdBy: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Job')
