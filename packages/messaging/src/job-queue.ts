/**
 * The background-job port (the Celery pattern): named jobs with a JSON payload, run by a
 * processor with retries and exponential backoff; jobs that run out of attempts stay visible
 * as failed and can be retried. One adapter per engine: BullMQ on Redis, and an embedded one
 * on the application database for `taskflow start`.
 *
 * Delivery is at-least-once: a processor that dies mid-job has the job run again, so
 * processors must tolerate a second run (the mailer keeps a stable Message-ID per email).
 */
export interface JobQueue {
  readonly engine: "redis" | "embedded";
  readonly name: string;
  /**
   * Adds jobs; resolves once the engine stored them all. A job whose `jobId` the queue
   * already holds (waiting, active, delayed, completed or failed) is not added again: the
   * outbox relay may publish one message twice, it must never make two jobs.
   */
  add(jobs: readonly NewJob[]): Promise<void>;
  /** Starts running jobs with `handler`, at most `concurrency` at once. */
  process(handler: JobHandler, options: { concurrency: number }): Promise<JobProcessor>;
  /** Counts by state, for the monitor and alerts. */
  counts(): Promise<JobCounts>;
  /** Jobs in one state, newest first, at most `limit`. */
  list(state: JobState, limit: number): Promise<JobView[]>;
  /** One job by id, or undefined. */
  get(jobId: string): Promise<JobView | undefined>;
  /**
   * Moves a failed job back to waiting (attempts start over), with `data` replacing its
   * payload when given (a redrive with an edited payload); false if it is not failed.
   */
  retry(jobId: string, options?: { data?: unknown }): Promise<boolean>;
  /** Deletes a job that is not running (a purge); false if there is none or it is active. */
  remove(jobId: string): Promise<boolean>;
  /**
   * Calls `listener` with every change of a job's state on this queue, whichever process made
   * it, as the engine reports it (BullMQ's event stream; a NOTIFY from the transaction that
   * made the change on the embedded queue). Resolves once listening: changes made after that
   * are reported, in the order the engine recorded them. The returned function stops it.
   *
   * @remarks Left out: a purge (the job is gone, it has no state); on the embedded queue, a
   * delayed job becoming due (nothing changes until a processor takes it: delayed → active);
   * on Redis, a change to a job that was purged before it could be read (no name to report).
   * Listeners run on the engine's delivery path: they must not throw, nor block.
   */
  watch(listener: JobChangeListener): Promise<() => Promise<void>>;
  /** Fails unless the engine answers now. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One change of a job's state, as `JobQueue.watch` reports it. */
export interface JobChange {
  queue: string;
  id: string;
  name: string;
  /** The state the job is in now. */
  state: JobState;
  /** Attempts started so far, the running one included (0 for a job that never ran). */
  attempts: number;
  /** With "failed": why, cut to MAX_CHANGE_REASON_LENGTH characters (`get` has all of it). */
  failedReason?: string;
}

export type JobChangeListener = (change: JobChange) => void;

/** A failed job's reason is cut to this length in a JobChange (a NOTIFY payload is < 8 kB). */
export const MAX_CHANGE_REASON_LENGTH = 500;

export type JobState = "waiting" | "delayed" | "active" | "completed" | "failed";
export const JOB_STATES: readonly JobState[] = [
  "waiting",
  "delayed",
  "active",
  "completed",
  "failed",
];

export interface NewJob {
  /** What to do, e.g. "email.welcome": the processor dispatches on it. */
  name: string;
  data: unknown;
  /** Stable id: adding it again is a no-op (see JobQueue.add). */
  jobId: string;
  /** Runs in total before the job is failed (default 5). */
  attempts?: number;
  /** First retry delay; doubled at each further retry (default 1,000 ms). */
  backoffMs?: number;
  /** Not before this many ms from now. */
  delayMs?: number;
  /** 0 (first) … 9 (last); default 5. */
  priority?: number;
  /**
   * Message headers: the W3C trace context (`traceparent`), handed to the processor as
   * JobRun.headers. BullMQ keeps them in the job's telemetry metadata (its own place for
   * propagated context), the embedded queue in a column: never in `data`.
   */
  headers?: Record<string, string>;
}

export interface JobRun {
  readonly id: string;
  readonly name: string;
  readonly data: unknown;
  /** 1 on the first run. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** NewJob.headers ({} when it had none). */
  readonly headers: Readonly<Record<string, string>>;
}

/** Resolves with the job's result, or throws to fail this attempt. */
export type JobHandler = (job: JobRun) => Promise<unknown>;

/**
 * Thrown by a handler when another attempt cannot succeed (an SMTP 5xx for the recipient):
 * the job fails now, with this reason, whatever attempts remain.
 */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentJobError";
  }
}

export interface JobProcessor {
  /** Takes no new jobs, waits (at most `timeoutMs`) for the running ones, then stops. */
  close(timeoutMs?: number): Promise<void>;
  /** Jobs running now. */
  readonly running: number;
}

export type JobCounts = Record<JobState, number>;

export interface JobView {
  id: string;
  name: string;
  data: unknown;
  state: JobState;
  attemptsMade: number;
  maxAttempts: number;
  priority: number;
  failedReason: string | null;
  result: unknown;
  createdAt: Date;
  /** When it may run next (delayed jobs and retries). */
  runAt: Date | null;
  finishedAt: Date | null;
}
