import type { Database, JobHistoryState, Kysely } from "@taskflow/db";
import { sql } from "@taskflow/db";
import { failureReason, firstOfEachId } from "./job-options.ts";
import {
  type JobHandler,
  type JobProcessor,
  type JobQueue,
  type JobRun,
  PermanentJobError,
} from "./job-queue.ts";

export interface JobHistoryOptions {
  /** A history write failed: the job went on regardless; report it (a log line). */
  onError?: (error: Error) => void;
}

/** Process events written in one statement at most; more wait for the next one. */
const MAX_BATCH = 500;
/**
 * Events waiting for a write at most (the database is slow or away): older ones are dropped
 * and reported, so a history outage cannot grow a process's memory without bound.
 */
const MAX_PENDING = 20_000;

/** JSON for a jsonb column; a value that has none (undefined, a cycle, a BigInt) is null. */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    return "null";
  }
}

const asError = (error: unknown) =>
  error instanceof Error ? error : new Error(failureReason(error));

/** What a processor saw happen to a job: an attempt started, or ended. */
interface JobEvent {
  run: JobRun;
  state: Extract<JobHistoryState, "active" | "waiting" | "completed" | "failed">;
  at: Date;
  result?: unknown;
  reason?: string;
  /** An attempt that started earlier in the same batch (its row is written once). */
  startedAt?: Date;
}

/**
 * Writes processors' events to job_history in the background, group-commit style: events
 * that arrive while a write is in flight go together in the next one (one multi-row upsert);
 * a lone event is written at once. One writer per decorated queue, so its events keep their
 * order. A failed write is reported and dropped: the history must never hold a job back.
 */
class HistoryWriter {
  private pending: JobEvent[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly queue: string,
    private readonly report: (error: Error) => void,
  ) {}

  push(event: JobEvent) {
    this.pending.push(event);
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.report(new Error(`job history: ${dropped.length} events dropped (writes too slow)`));
    }
    this.start();
  }

  private start() {
    if (this.writing) return;
    this.writing = this.drainLoop().finally(() => {
      this.writing = undefined;
      // Pushed after the loop's last look, before this ran: nobody else would write them.
      if (this.pending.length > 0) this.start();
    });
  }

  /** Resolves once every event pushed so far is written (or reported). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drainLoop() {
    // Let the events of this turn of the event loop join the first write.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      await this.write(batch);
    }
  }

  private async write(batch: JobEvent[]) {
    const rows = coalesce(batch).map((event) => this.toRow(event));
    try {
      await this.upsert(rows);
    } catch (error) {
      // SQLSTATE class 22 is a bad value (a result jsonb refuses): that row must not lose the
      // others' history. Anything else (the database is away) would fail them one by one too.
      const badValue = String((error as { code?: unknown }).code ?? "").startsWith("22");
      if (rows.length === 1 || !badValue) {
        this.report(asError(error));
        return;
      }
      for (const row of rows) {
        await this.upsert([row]).catch((e: unknown) => this.report(asError(e)));
      }
    }
  }

  private toRow(event: JobEvent) {
    const { run } = event;
    const finished = event.state === "completed" || event.state === "failed";
    return {
      queue: this.queue,
      job_id: run.id,
      name: run.name,
      state: event.state,
      attempts_made: run.attempt,
      max_attempts: run.maxAttempts,
      data: toJson(run.data ?? null),
      result: event.state === "completed" ? toJson(event.result ?? null) : null,
      failed_reason: event.reason ?? null,
      started_at: event.state === "active" ? event.at : (event.startedAt ?? null),
      finished_at: finished ? event.at : null,
    };
  }

  /**
   * Inserts the jobs this history has not seen (added before it was recorded, or by a
   * process without it), else moves their rows on, unless a row is already further along:
   * an attempt's start never overwrites a later attempt (a failed job that was retried
   * starts over at 1, so a failed row always takes it), an outcome never overwrites a later
   * attempt's row (a slow processor whose job was taken over).
   */
  private async upsert(rows: ReturnType<HistoryWriter["toRow"]>[]) {
    await this.db
      .insertInto("job_history")
      .values(rows)
      .onConflict((oc) =>
        oc
          .columns(["queue", "job_id"])
          .doUpdateSet({
            name: (eb) => eb.ref("excluded.name"),
            state: (eb) => eb.ref("excluded.state"),
            attempts_made: (eb) => eb.ref("excluded.attempts_made"),
            max_attempts: (eb) => eb.ref("excluded.max_attempts"),
            data: (eb) => eb.ref("excluded.data"),
            result: (eb) => eb.ref("excluded.result"),
            // A running attempt keeps showing why the previous one failed.
            failed_reason: sql`CASE WHEN excluded.state = 'active'
                                    THEN coalesce(excluded.failed_reason, job_history.failed_reason)
                                    ELSE excluded.failed_reason END`,
            started_at: sql`coalesce(excluded.started_at, job_history.started_at)`,
            finished_at: (eb) => eb.ref("excluded.finished_at"),
            run_at: null,
            updated_at: sql`now()`,
          })
          .where(
            sql<boolean>`job_history.attempts_made <= excluded.attempts_made
                         OR (excluded.state = 'active' AND job_history.state = 'failed')`,
          ),
      )
      .execute();
  }
}

/**
 * The last event of each job in a batch (they are in order), carrying the start of its
 * attempt when that is in the batch too: one row per job, as one statement requires.
 */
function coalesce(batch: readonly JobEvent[]): JobEvent[] {
  const byJob = new Map<string, JobEvent>();
  for (const event of batch) {
    const before = byJob.get(event.run.id);
    // Delete first: the job's place in the map becomes its latest event's.
    byJob.delete(event.run.id);
    const sameAttempt = before && before.run.attempt === event.run.attempt;
    const startedAt = sameAttempt
      ? before.state === "active"
        ? before.at
        : before.startedAt
      : undefined;
    let latest = startedAt && event.state !== "active" ? { ...event, startedAt } : event;
    // A retry that starts in the same batch as the failure before it: the row it writes
    // still says why that attempt failed.
    if (latest.state === "active" && !sameAttempt && before?.reason !== undefined) {
      latest = { ...latest, reason: before.reason };
    }
    byJob.set(event.run.id, latest);
  }
  return [...byJob.values()];
}

/**
 * A JobQueue that also keeps every job's history in PostgreSQL (`job_history`), whatever
 * engine runs the jobs: a row when a job is added (waiting or delayed), "active" when an
 * attempt starts, the outcome when it ends (completed with its result, failed with its
 * reason, or waiting again for a retry), and the operator's retry and purge. The history
 * outlives the engine's own records (BullMQ drops completed jobs after a day, a purge at
 * once) and is what the monitor searches.
 *
 * Every process that touches the queue should wrap it (the relay adds, the mailer runs, the
 * API retries and purges); each writes what it sees. Writes never fail the job: an error is
 * given to `onError` and the job goes on. Additions are written with the add (one statement
 * per call); processors' events in the background, batched.
 *
 * What the history cannot see: an engine that gives up on a job by itself (a processor that
 * died during the last attempt) leaves it "active" here, and a delayed job that became due
 * stays "delayed" until it starts.
 */
export function withJobHistory(
  queue: JobQueue,
  db: Kysely<Database>,
  options: JobHistoryOptions = {},
): JobQueue {
  const report = (error: Error) => {
    try {
      options.onError?.(error);
    } catch {
      // A reporter that throws must not stop the history writer either.
    }
  };
  const writer = new HistoryWriter(db, queue.name, report);
  const quietly = (write: Promise<unknown>) =>
    write.then(
      () => undefined,
      (error: unknown) => report(asError(error)),
    );

  async function recordAdded(jobs: Parameters<JobQueue["add"]>[0]) {
    const fresh = firstOfEachId(jobs);
    if (fresh.length === 0) return;
    await db
      .insertInto("job_history")
      .values(
        fresh.map((job) => ({
          queue: queue.name,
          job_id: job.jobId,
          name: job.name,
          state: job.delayMs > 0 ? ("delayed" as const) : ("waiting" as const),
          priority: job.priority,
          max_attempts: job.attempts,
          data: toJson(job.data ?? null),
          run_at:
            job.delayMs > 0 ? sql<Date>`now() + ${`${job.delayMs} milliseconds`}::interval` : null,
        })),
      )
      // A known id is a duplicate the engine ignored, unless the job was purged since:
      // then the engine took it as a new job, and its history starts over.
      .onConflict((oc) =>
        oc
          .columns(["queue", "job_id"])
          .doUpdateSet({
            name: (eb) => eb.ref("excluded.name"),
            state: (eb) => eb.ref("excluded.state"),
            priority: (eb) => eb.ref("excluded.priority"),
            max_attempts: (eb) => eb.ref("excluded.max_attempts"),
            data: (eb) => eb.ref("excluded.data"),
            run_at: (eb) => eb.ref("excluded.run_at"),
            attempts_made: 0,
            result: null,
            failed_reason: null,
            created_at: sql`now()`,
            started_at: null,
            finished_at: null,
            removed_at: null,
            updated_at: sql`now()`,
          })
          .where("job_history.removed_at", "is not", null),
      )
      .execute();
  }

  return {
    engine: queue.engine,
    name: queue.name,

    async add(jobs) {
      await queue.add(jobs);
      // After the engine stored them: a failed add leaves no history of a job that is not there.
      await quietly(recordAdded(jobs));
    },

    async process(handler: JobHandler, processOptions) {
      const processor = await queue.process(async (run) => {
        writer.push({ run, state: "active", at: new Date() });
        try {
          const result = await handler(run);
          writer.push({ run, state: "completed", at: new Date(), result });
          return result;
        } catch (error) {
          const final = error instanceof PermanentJobError || run.attempt >= run.maxAttempts;
          writer.push({
            run,
            state: final ? "failed" : "waiting",
            at: new Date(),
            reason: failureReason(error),
          });
          throw error;
        }
      }, processOptions);
      return {
        get running() {
          return processor.running;
        },
        async close(timeoutMs?: number) {
          await processor.close(timeoutMs);
          await writer.flush();
        },
      } satisfies JobProcessor;
    },

    counts: () => queue.counts(),
    list: (state, limit) => queue.list(state, limit),
    get: (jobId) => queue.get(jobId),

    async retry(jobId, retryOptions) {
      // The database's time before the engine acts: a processor's write about the retried
      // job comes after it, and must not be overwritten by this one (it would be older news).
      const before = await sql<{ at: string }>`SELECT now()::text AS at`
        .execute(db)
        .then((r) => r.rows[0]?.at)
        .catch((error: unknown) => {
          report(asError(error));
          return undefined;
        });
      const retried = await queue.retry(jobId, retryOptions);
      if (!retried || before === undefined) return retried;
      const data = retryOptions?.data;
      await quietly(
        db
          .updateTable("job_history")
          .set({
            state: "waiting",
            attempts_made: 0,
            result: null,
            failed_reason: null,
            started_at: null,
            finished_at: null,
            run_at: null,
            updated_at: sql`now()`,
            ...(data !== undefined ? { data: toJson(data) } : {}),
          })
          .where("queue", "=", queue.name)
          .where("job_id", "=", jobId)
          .where("state", "=", "failed")
          .where("updated_at", "<", sql<Date>`${before}::timestamptz`)
          .execute(),
      );
      return true;
    },

    async remove(jobId) {
      const removed = await queue.remove(jobId);
      if (removed) {
        await quietly(
          db
            .updateTable("job_history")
            .set({ removed_at: sql`now()`, updated_at: sql`now()` })
            .where("queue", "=", queue.name)
            .where("job_id", "=", jobId)
            .where("removed_at", "is", null)
            .execute(),
        );
      }
      return removed;
    },

    watch: (listener) => queue.watch(listener),
    ping: () => queue.ping(),

    async close() {
      await queue.close();
      await writer.flush();
    },
  };
}
