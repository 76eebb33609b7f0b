import type { Database, DatabaseHandle, Kysely, QueueJobState } from "@taskflow/db";
import { sql } from "@taskflow/db";
import { backoffDelayMs, deliver, failureReason, firstOfEachId } from "../job-options.ts";
import {
  type JobChange,
  type JobChangeListener,
  type JobCounts,
  type JobHandler,
  type JobProcessor,
  type JobQueue,
  type JobState,
  type JobView,
  MAX_CHANGE_REASON_LENGTH,
  PermanentJobError,
} from "../job-queue.ts";

export interface EmbeddedJobQueueOptions {
  database: DatabaseHandle;
  queue: string;
  /** Longest wait between looks at the table when no NOTIFY arrives. */
  pollMs?: number;
  /** How long a running job belongs to its processor; renewed while it runs. */
  leaseMs?: number;
}

const JOB_CHANNEL = "taskflow_jobs";
/** Every queue's job changes (JobQueue.watch), from the transactions that make them. */
export const JOB_EVENTS_CHANNEL = "taskflow_job_events";
/** How long `close()` of a processor waits for running jobs unless told otherwise. */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

// PGlite belongs to one process: leases found when it is first processed from were taken by
// a process that is gone (a crash), so they run out at once instead of after the lease.
const recovered = new WeakSet<DatabaseHandle>();

async function releaseOrphanedLeases(database: DatabaseHandle) {
  if (database.engine !== "pglite" || recovered.has(database)) return;
  recovered.add(database);
  await sql`UPDATE queue_jobs SET locked_until = now() WHERE state = 'active' AND locked_until > now()`.execute(
    database.db,
  );
}

function interval(ms: number) {
  return sql`${`${Math.round(ms)} milliseconds`}::interval`;
}

// "delayed" is not stored: it is a waiting job whose run_at has not come yet.
const derivedState = sql<JobState>`CASE WHEN state = 'waiting' AND run_at > now() THEN 'delayed' ELSE state END`;

/** What a statement that changes jobs RETURNs for `notifyChanges`. */
const CHANGED_COLUMNS = [
  "queue",
  "id",
  "name",
  "state",
  "attempts_made",
  "failed_reason",
  "run_at",
] as const;
const changedColumns = sql.join(CHANGED_COLUMNS.map((column) => sql.ref(column)));
/** A change above this many bytes (a job id of kilobytes) is not reported: it cannot be sent. */
const MAX_CHANGE_BYTES = 3_000;
/**
 * Changes are sent in runs of about this many bytes: at most this plus one change per NOTIFY,
 * under PostgreSQL's 8,000-byte cap on a payload (a failing NOTIFY would fail the transaction).
 */
const NOTIFY_BYTES = 4_000;

/**
 * The CTE `notified AS (…)`, which NOTIFYs the job changes in the CTE `changed` (its rows
 * carry CHANGED_COLUMNS) on JOB_EVENTS_CHANNEL, as JSON arrays of JobChangeNotice, in the
 * statement that made them: NOTIFY is transactional, so a change is reported once it is
 * committed, and never if it rolled back. Select from `notified` (one row) so it runs.
 */
const notifyChanges = sql`notified AS (
  SELECT count(*) AS notices FROM (
    SELECT pg_notify(${JOB_EVENTS_CHANNEL}, '[' || string_agg(notice, ',') || ']')
    FROM (
      SELECT notice, sum(octet_length(notice) + 1) OVER (ORDER BY id) / ${NOTIFY_BYTES} AS run
      FROM (
        SELECT id, json_build_object(
          'queue', queue, 'id', id, 'name', name,
          'state', CASE WHEN state = 'waiting' AND run_at > now() THEN 'delayed' ELSE state END,
          'attempts', attempts_made,
          'failed_reason', CASE WHEN state = 'failed'
                                THEN left(failed_reason, ${MAX_CHANGE_REASON_LENGTH}) END
        )::text AS notice
        FROM changed
      ) changes
      WHERE octet_length(notice) <= ${MAX_CHANGE_BYTES}
    ) sized
    GROUP BY run
  ) sent
)`;

/** One change as JOB_EVENTS_CHANNEL carries it. */
interface JobChangeNotice {
  queue: string;
  id: string;
  name: string;
  state: JobState;
  attempts: number;
  failed_reason: string | null;
}

function toChange(notice: JobChangeNotice): JobChange {
  const change: JobChange = {
    queue: notice.queue,
    id: notice.id,
    name: notice.name,
    state: notice.state,
    attempts: notice.attempts,
  };
  if (notice.failed_reason !== null) change.failedReason = notice.failed_reason;
  return change;
}

interface JobRow {
  id: string;
  name: string;
  data: unknown;
  state: JobState;
  attempts_made: number;
  max_attempts: number;
  priority: number;
  failed_reason: string | null;
  result: unknown;
  created_at: Date;
  run_at: Date;
  finished_at: Date | null;
}

function toView(row: JobRow): JobView {
  return {
    id: row.id,
    name: row.name,
    data: row.data,
    state: row.state,
    attemptsMade: row.attempts_made,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    failedReason: row.failed_reason,
    result: row.result ?? null,
    createdAt: new Date(row.created_at),
    runAt: row.state === "delayed" ? new Date(row.run_at) : null,
    finishedAt: row.finished_at ? new Date(row.finished_at) : null,
  };
}

/**
 * The embedded job queue: jobs are rows of `queue_jobs` in the application database, taken
 * with FOR UPDATE SKIP LOCKED under a lease that is renewed while the job runs; a crashed
 * processor's job runs again once its lease is over. Retries wait in the same row (`run_at`),
 * finished jobs stay (their id keeps deduplicating). Adders NOTIFY, so idle processors wake;
 * every statement that changes jobs' states also NOTIFYs the changes, for `watch`.
 */
export function createEmbeddedJobQueue(options: EmbeddedJobQueueOptions): JobQueue {
  const { database, queue } = options;
  const db: Kysely<Database> = database.db;
  const pollMs = options.pollMs ?? 1_000;
  const leaseMs = options.leaseMs ?? 30_000;
  const processors = new Set<EmbeddedJobProcessor>();

  const selectView = () =>
    db
      .selectFrom("queue_jobs")
      .select([
        "id",
        "name",
        "data",
        derivedState.as("state"),
        "attempts_made",
        "max_attempts",
        "priority",
        "failed_reason",
        "result",
        "created_at",
        "run_at",
        "finished_at",
      ])
      .where("queue", "=", queue);

  return {
    engine: "embedded",
    name: queue,

    async add(jobs) {
      const fresh = firstOfEachId(jobs);
      if (fresh.length === 0) return;
      // Known ids are not inserted, so they are not reported as changed either.
      const insert = db
        .insertInto("queue_jobs")
        .values(
          fresh.map((job) => ({
            queue,
            id: job.jobId,
            name: job.name,
            data: JSON.stringify(job.data ?? null),
            headers: JSON.stringify(job.headers ?? {}),
            state: "waiting" as const,
            priority: job.priority,
            max_attempts: job.attempts,
            backoff_ms: job.backoffMs,
            run_at: sql<Date>`now() + ${interval(job.delayMs)}`,
          })),
        )
        .onConflict((oc) => oc.columns(["queue", "id"]).doNothing())
        .returning(CHANGED_COLUMNS);
      await sql`
        WITH changed AS (${insert}), ${notifyChanges}
        SELECT pg_notify(${JOB_CHANNEL}, ${queue}), notices FROM notified
      `.execute(db);
    },

    async process(handler: JobHandler, { concurrency }) {
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new RangeError("concurrency must be a whole number ≥ 1");
      }
      await releaseOrphanedLeases(database);
      const processor = new EmbeddedJobProcessor(db, queue, handler, concurrency, {
        leaseMs,
        pollMs,
      });
      const unlisten = await database.listen(JOB_CHANNEL, (payload) => {
        if (payload === queue) processor.wake();
      });
      database.onReconnect(() => processor.wake());
      processors.add(processor);
      processor.start();
      return {
        get running() {
          return processor.running;
        },
        async close(timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS) {
          processors.delete(processor);
          await unlisten();
          await processor.close(timeoutMs);
        },
      } satisfies JobProcessor;
    },

    async counts() {
      const { rows } = await sql<JobCounts>`
        SELECT count(*) FILTER (WHERE state = 'waiting' AND run_at <= now())::int AS waiting,
               count(*) FILTER (WHERE state = 'waiting' AND run_at > now())::int AS delayed,
               count(*) FILTER (WHERE state = 'active')::int AS active,
               count(*) FILTER (WHERE state = 'completed')::int AS completed,
               count(*) FILTER (WHERE state = 'failed')::int AS failed
        FROM queue_jobs WHERE queue = ${queue}
      `.execute(db);
      return rows[0] ?? { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 };
    },

    async list(state: JobState, limit: number) {
      let query = selectView();
      if (state === "waiting" || state === "delayed") {
        query = query
          .where("state", "=", "waiting")
          .where("run_at", state === "waiting" ? "<=" : ">", sql<Date>`now()`);
      } else {
        query = query.where("state", "=", state satisfies QueueJobState);
      }
      // Finished jobs are newest by when they finished; the others by when they were added.
      const rows =
        state === "completed" || state === "failed"
          ? await query.orderBy("finished_at", "desc").orderBy("seq", "desc").limit(limit).execute()
          : await query.orderBy("seq", "desc").limit(limit).execute();
      return rows.map(toView);
    },

    async get(jobId: string) {
      const row = await selectView().where("id", "=", jobId).executeTakeFirst();
      return row ? toView(row) : undefined;
    },

    async retry(jobId: string, retryOptions?: { data?: unknown }) {
      const data = retryOptions?.data;
      const replaceData = data === undefined ? sql`` : sql`, data = ${JSON.stringify(data)}::jsonb`;
      const { rows } = await sql<{ id: string }>`
        WITH changed AS (
          UPDATE queue_jobs
          SET state = 'waiting', attempts_made = 0, run_at = now(), failed_reason = NULL,
              finished_at = NULL, locked_until = NULL ${replaceData}
          WHERE queue = ${queue} AND id = ${jobId} AND state = 'failed'
          RETURNING ${changedColumns}
        ), ${notifyChanges}
        SELECT id, pg_notify(${JOB_CHANNEL}, ${queue}), notices FROM changed, notified
      `.execute(db);
      return rows.length > 0;
    },

    async remove(jobId: string) {
      // An active job is running now: deleting it would hide work in progress.
      const result = await db
        .deleteFrom("queue_jobs")
        .where("queue", "=", queue)
        .where("id", "=", jobId)
        .where("state", "!=", "active")
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async watch(listener: JobChangeListener) {
      // One LISTEN per process and channel (the database handle shares it); each watcher
      // picks its queue's changes.
      return database.listen(JOB_EVENTS_CHANNEL, (payload) => {
        let notices: JobChangeNotice[];
        try {
          notices = JSON.parse(payload) as JobChangeNotice[];
        } catch {
          return; // Not ours: someone else NOTIFYs on the channel.
        }
        for (const notice of notices) {
          if (notice.queue === queue) deliver(listener, toChange(notice));
        }
      });
    },

    async ping() {
      await database.ping();
    },

    async close() {
      // The database belongs to the caller; only this queue's processors stop here.
      const running = [...processors];
      processors.clear();
      await Promise.all(running.map((p) => p.close(DEFAULT_CLOSE_TIMEOUT_MS)));
    },
  };
}

/** A handler's result as JSON; one that has none (undefined, a cycle, a BigInt) is stored as null. */
function toJson(result: unknown): string | null {
  try {
    return JSON.stringify(result) ?? null;
  } catch {
    return null;
  }
}

interface TakenJob {
  id: string;
  name: string;
  data: unknown;
  attempts_made: number;
  max_attempts: number;
  backoff_ms: number;
  priority: number;
  run_at: Date;
  seq: number;
  headers: Record<string, string> | null;
}

type Outcome =
  | { kind: "completed"; result: unknown }
  | { kind: "retry"; reason: string; delayMs: number }
  | { kind: "failed"; reason: string };

class EmbeddedJobProcessor {
  /** Running jobs by id, with the attempt each one holds the lease for. */
  private readonly held = new Map<string, { attempt: number; done: Promise<void> }>();
  private active = false;
  private pumping: Promise<void> | undefined;
  private wanted = false;
  private timer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private nextReclaim = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly queue: string,
    private readonly handler: JobHandler,
    private readonly concurrency: number,
    private readonly limits: { leaseMs: number; pollMs: number },
  ) {}

  get running() {
    return this.held.size;
  }

  start() {
    this.active = true;
    this.leaseTimer = setInterval(() => void this.renewLeases(), this.limits.leaseMs / 3);
    this.leaseTimer.unref();
    this.wake();
  }

  /** Takes no new jobs, waits up to `timeoutMs` for the running ones, then lets go. */
  async close(timeoutMs: number) {
    this.active = false;
    clearTimeout(this.timer);
    await this.pumping;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.held.values()].map((h) => h.done)),
      new Promise((resolve) => {
        timeout = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
    // Jobs still running keep their lease until it runs out, then another processor runs them.
    clearInterval(this.leaseTimer);
  }

  /** Looks for jobs now (an add was notified, a job finished, or the poll came). */
  wake() {
    if (!this.active) return;
    if (this.pumping) {
      this.wanted = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.wanted) this.wake();
    });
  }

  private async pump() {
    clearTimeout(this.timer);
    try {
      do {
        this.wanted = false;
        if (Date.now() >= this.nextReclaim) {
          this.nextReclaim = Date.now() + this.limits.pollMs;
          await this.reclaimExpiredLeases();
        }
        const room = this.concurrency - this.held.size;
        if (room <= 0 || !this.active) break;
        const taken = await this.take(room);
        if (taken === room) this.wanted = true;
      } while (this.wanted && this.active);
    } catch {
      // The database is unreachable or restarting: the next poll tries again.
    } finally {
      this.wanted = false;
      if (this.active) {
        this.timer = setTimeout(() => this.wake(), this.limits.pollMs);
        this.timer.unref();
      }
    }
  }

  /**
   * Jobs whose processor stopped renewing their lease (it crashed) become waiting again; one
   * that was on its last attempt fails instead, so a job that kills processors cannot loop.
   */
  private async reclaimExpiredLeases() {
    await sql`
      WITH changed AS (
        UPDATE queue_jobs
        SET state = CASE WHEN attempts_made >= max_attempts THEN 'failed' ELSE 'waiting' END,
            failed_reason = CASE WHEN attempts_made >= max_attempts
                                 THEN 'the processor stopped during the last attempt'
                                 ELSE failed_reason END,
            finished_at = CASE WHEN attempts_made >= max_attempts THEN now() END,
            locked_until = NULL
        WHERE queue = ${this.queue} AND state = 'active' AND locked_until <= now()
        RETURNING ${changedColumns}
      ), ${notifyChanges}
      SELECT notices FROM notified
    `.execute(this.db);
  }

  private async take(room: number): Promise<number> {
    const { rows } = await sql<TakenJob>`
      WITH changed AS (
        UPDATE queue_jobs j
        SET state = 'active', attempts_made = j.attempts_made + 1,
            locked_until = now() + ${interval(this.limits.leaseMs)}
        FROM (
          SELECT queue, id FROM queue_jobs
          WHERE queue = ${this.queue} AND state = 'waiting' AND run_at <= now()
          ORDER BY priority, run_at, seq
          LIMIT ${room}
          FOR UPDATE SKIP LOCKED
        ) next
        WHERE j.queue = next.queue AND j.id = next.id
        RETURNING j.queue, j.id, j.name, j.data, j.state, j.attempts_made, j.max_attempts,
                  j.backoff_ms, j.priority, j.failed_reason, j.run_at, j.seq, j.headers
      ), ${notifyChanges}
      SELECT id, name, data, attempts_made, max_attempts, backoff_ms, priority, run_at, seq,
             headers
      FROM changed, notified
    `.execute(this.db);
    // RETURNING has no order: start them in the order they were chosen.
    rows.sort(
      (a, b) =>
        a.priority - b.priority ||
        new Date(a.run_at).getTime() - new Date(b.run_at).getTime() ||
        a.seq - b.seq,
    );
    for (const row of rows) {
      const done = this.run(row).finally(() => {
        this.held.delete(row.id);
        this.wake();
      });
      this.held.set(row.id, { attempt: row.attempts_made, done });
    }
    return rows.length;
  }

  private async run(job: TakenJob) {
    let outcome: Outcome;
    try {
      const result = await this.handler({
        id: job.id,
        name: job.name,
        data: job.data,
        attempt: job.attempts_made,
        maxAttempts: job.max_attempts,
        headers: job.headers ?? {},
      });
      outcome = { kind: "completed", result };
    } catch (error) {
      const reason = failureReason(error);
      outcome =
        error instanceof PermanentJobError || job.attempts_made >= job.max_attempts
          ? { kind: "failed", reason }
          : { kind: "retry", reason, delayMs: backoffDelayMs(job.backoff_ms, job.attempts_made) };
    }
    await this.finish(job, outcome).catch(() => {
      // Not recorded (the database is away): the lease runs out and the job runs again.
    });
  }

  /** Records an outcome only if this processor still holds the job in this attempt. */
  private async finish(job: TakenJob, outcome: Outcome) {
    const set =
      outcome.kind === "completed"
        ? sql`state = 'completed', result = ${toJson(outcome.result)}::jsonb,
              failed_reason = NULL, finished_at = now()`
        : outcome.kind === "failed"
          ? sql`state = 'failed', failed_reason = ${outcome.reason}, finished_at = now()`
          : sql`state = 'waiting', failed_reason = ${outcome.reason},
                run_at = now() + ${interval(outcome.delayMs)}`;
    await sql`
      WITH changed AS (
        UPDATE queue_jobs SET ${set}, locked_until = NULL
        WHERE queue = ${this.queue} AND id = ${job.id} AND state = 'active'
          AND attempts_made = ${job.attempts_made}
        RETURNING ${changedColumns}
      ), ${notifyChanges}
      SELECT notices FROM notified
    `.execute(this.db);
  }

  private async renewLeases() {
    if (this.held.size === 0) return;
    const held = [...this.held.entries()];
    await sql`
      UPDATE queue_jobs j SET locked_until = now() + ${interval(this.limits.leaseMs)}
      FROM unnest(${held.map(([id]) => id)}::text[], ${held.map(([, h]) => h.attempt)}::int[])
        AS h(id, attempt)
      WHERE j.queue = ${this.queue} AND j.id = h.id AND j.attempts_made = h.attempt
        AND j.state = 'active'
    `
      .execute(this.db)
      .catch(() => {});
  }
}
