import type { JobChange, NewJob } from "./job-queue.ts";

/** NewJob with every default applied and checked; shared by the adapters so they agree. */
export interface ResolvedJob {
  name: string;
  data: unknown;
  jobId: string;
  attempts: number;
  backoffMs: number;
  delayMs: number;
  priority: number;
  /** NewJob.headers, when it had some (the trace context). */
  headers?: Record<string, string>;
}

export const DEFAULT_JOB_ATTEMPTS = 5;
export const DEFAULT_JOB_BACKOFF_MS = 1_000;
export const DEFAULT_JOB_PRIORITY = 5;
/** Longest wait between two attempts (a timer cannot wait longer than 2^31 - 1 ms anyway). */
export const MAX_JOB_BACKOFF_MS = 2 ** 31 - 1;

function check(ok: boolean, job: NewJob, what: string) {
  if (!ok) throw new RangeError(`job ${JSON.stringify(job.jobId)}: ${what}`);
}

export function resolveJob(job: NewJob): ResolvedJob {
  const resolved: ResolvedJob = {
    name: job.name,
    data: job.data,
    jobId: job.jobId,
    attempts: job.attempts ?? DEFAULT_JOB_ATTEMPTS,
    backoffMs: job.backoffMs ?? DEFAULT_JOB_BACKOFF_MS,
    delayMs: job.delayMs ?? 0,
    priority: job.priority ?? DEFAULT_JOB_PRIORITY,
    ...(job.headers && { headers: job.headers }),
  };
  check(typeof job.jobId === "string" && job.jobId.length > 0, job, "jobId must not be empty");
  check(typeof job.name === "string" && job.name.length > 0, job, "name must not be empty");
  check(Number.isInteger(resolved.attempts) && resolved.attempts >= 1, job, "attempts ≥ 1");
  check(
    Number.isInteger(resolved.backoffMs) && resolved.backoffMs >= 0,
    job,
    "backoffMs must be a whole number ≥ 0",
  );
  check(
    Number.isInteger(resolved.delayMs) && resolved.delayMs >= 0,
    job,
    "delayMs must be a whole number ≥ 0",
  );
  check(
    Number.isInteger(resolved.priority) && resolved.priority >= 0 && resolved.priority <= 9,
    job,
    "priority must be 0 … 9",
  );
  return resolved;
}

/** The first job of each id: a batch that names one id twice makes one job, like two batches. */
export function firstOfEachId(jobs: readonly NewJob[]): ResolvedJob[] {
  const byId = new Map<string, ResolvedJob>();
  for (const job of jobs) {
    const resolved = resolveJob(job);
    if (!byId.has(resolved.jobId)) byId.set(resolved.jobId, resolved);
  }
  return [...byId.values()];
}

/** Wait before attempt `attempt + 1`: `backoffMs`, doubled for each further retry. */
export function backoffDelayMs(backoffMs: number, attempt: number): number {
  return Math.min(backoffMs * 2 ** Math.max(0, attempt - 1), MAX_JOB_BACKOFF_MS);
}

/** What a failed attempt records as its reason. */
export function failureReason(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Gives a watcher one change. A listener that throws (it must not) is not allowed to stop the
 * delivery to the others, nor to break the engine's connection it runs on.
 */
export function deliver(listener: (change: JobChange) => void, change: JobChange): void {
  try {
    listener(change);
  } catch {
    // The watcher's own bug: the other watchers still hear of the change.
  }
}
