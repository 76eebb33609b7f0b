import type { NewJob } from "./job-queue.ts";

/**
 * The outbox destination of background jobs: the row's payload is the NewJob itself, written
 * in the transaction of the change that asks for it; the relay adds it to the job queue. The
 * job's stable id makes a second publication of the same row a no-op.
 */
export const JOB_QUEUE_DESTINATION = "job-queue";

export function isNewJob(value: unknown): value is NewJob {
  if (!value || typeof value !== "object") return false;
  const job = value as Record<string, unknown>;
  return typeof job.name === "string" && typeof job.jobId === "string" && "data" in job;
}
