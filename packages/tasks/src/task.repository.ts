import {
  type Database,
  type Kysely,
  PREPARED,
  pageOf,
  replayOf,
  sql,
  storedUnderKeys,
  type TaskRow,
  type TaskStatus,
} from "@taskflow/db";
import { uuidv7 } from "uuidv7";
import {
  CANCELLABLE_STATUSES,
  DEFAULT_TASK_PRIORITY,
  retryDelayMs,
  TASK_STATUSES,
} from "./task.ts";
import {
  NOTICES,
  outboxCtes,
  QUEUED,
  type TaskEventRoute,
  transitionCtes,
} from "./task-transitions.ts";

export interface NewTask {
  ownerId: string;
  type: string;
  title: string | null;
  payload: unknown;
  maxAttempts: number;
  /** With a key, a second create with the same key returns the first task. */
  idempotencyKey?: string | undefined;
  /** Fingerprint of the request body, to refuse a reused key with a different body. */
  requestHash?: string | undefined;
  /** Not to start before this time (its queue message waits in the outbox until then). */
  runAt?: Date | undefined;
  /** 0 (most urgent) … 9; DEFAULT_TASK_PRIORITY when absent. */
  priority?: number | undefined;
  /**
   * W3C trace context of the request (or span) that made it: stored on the task and carried
   * by each of its queue messages, so the pipeline's spans join the request's trace.
   */
  traceparent?: string | undefined;
}

export type CreateOutcome =
  | { kind: "created"; task: TaskRow }
  | { kind: "replayed"; task: TaskRow }
  | { kind: "key_reused"; task: TaskRow };

export interface TaskPage {
  items: TaskRow[];
  nextCursor: string | null;
}

export type CancelOutcome =
  | { kind: "cancelled"; task: TaskRow }
  | { kind: "not_found" }
  | { kind: "not_cancellable"; status: TaskStatus };

export type RetryOutcome =
  | { kind: "retried"; task: TaskRow }
  | { kind: "not_found" }
  | { kind: "not_retryable"; status: TaskStatus };

/**
 * More work for the same transaction (an operator's audit record), given the tasks changed:
 * it commits or rolls back with the change. It runs before the counters are updated, which
 * stay last.
 */
export type AlsoInTransaction = (
  trx: Kysely<Database>,
  changed: readonly TaskRow[],
) => Promise<void>;

/** A delivery the worker wants to run. */
export interface ClaimRequest {
  taskId: string;
  /** The engine delivered it before (its consumer died): a PROCESSING task may be taken over. */
  redelivered: boolean;
}

export interface ClaimedTask {
  id: string;
  owner_id: string;
  type: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
  status: TaskStatus;
  /** The trace context its messages carry (the request's); null: none. */
  traceparent: string | null;
}

export type TaskOutcome = (
  | { taskId: string; attempt: number; ok: true; result: unknown }
  | { taskId: string; attempt: number; ok: false; error: string }
) & {
  /**
   * The trace context of the attempt (the worker's span): the task.done / task.failed event
   * and a retry's message are its children. Without it, the task's own (the request's).
   */
  traceparent?: string | undefined;
};

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
}

const MAX_ERROR_LENGTH = 4_000;

export interface TaskRepositoryOptions {
  /**
   * Where `finish` puts the events of the tasks it ends (default: the outbox). A claim that
   * fails a task whose worker died (rare) always uses the outbox: so the only statement that
   * locks stream partitions beside task counters is `finish`, in one order, and no two
   * statements can wait on each other's locks in a cycle.
   */
  taskEvents?: TaskEventRoute;
}

/**
 * The task table's only writer. Every method that changes a status does it in one
 * transaction with its counters, its live notification and (where a message or an event must
 * follow) its outbox row or stream record. Batch methods take many tasks at once: one commit,
 * one fsync.
 */
export function createTaskRepository(db: Kysely<Database>, options: TaskRepositoryOptions = {}) {
  const taskEvents = options.taskEvents ?? { to: "outbox" };
  return {
    /**
     * Inserts tasks, their queue messages and their counters in one statement (one round
     * trip, one commit for the whole batch: group commit). A task whose idempotency key the
     * owner used before is not inserted: the first task is returned instead.
     */
    async createMany(inputs: readonly NewTask[]): Promise<CreateOutcome[]> {
      if (inputs.length === 0) return [];
      const ids = inputs.map(() => uuidv7());
      const column = <T>(pick: (input: NewTask) => T) => inputs.map(pick);
      const { rows: inserted } = await sql<TaskRow>`${sql.raw(PREPARED)}
        WITH input AS (
          SELECT * FROM unnest(
            ${ids}::uuid[], ${column((i) => i.ownerId)}::uuid[], ${column((i) => i.type)}::text[],
            ${column((i) => i.title)}::text[],
            ${column((i) => JSON.stringify(i.payload ?? {}))}::jsonb[],
            ${column((i) => i.maxAttempts)}::int[], ${column((i) => i.priority ?? DEFAULT_TASK_PRIORITY)}::smallint[],
            ${column((i) => i.idempotencyKey ?? null)}::text[],
            ${column((i) => i.requestHash ?? null)}::text[],
            ${column((i) => i.runAt?.toISOString() ?? null)}::timestamptz[],
            ${column((i) => i.traceparent ?? null)}::text[]
          ) WITH ORDINALITY AS i(id, owner_id, type, title, payload, max_attempts, priority,
                                 idempotency_key, request_hash, run_at, traceparent, n)
        ),
        created AS (
          INSERT INTO tasks (id, owner_id, type, title, payload, status, max_attempts, priority,
                             idempotency_key, request_hash, run_at, traceparent, created_at,
                             updated_at)
          SELECT id, owner_id, type, title, payload, 'PENDING', max_attempts, priority,
                 idempotency_key, request_hash, run_at, traceparent, now(), now()
          FROM input ORDER BY n
          ON CONFLICT (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
          RETURNING *
        ),
        changed AS (SELECT *, NULL::text AS previous, coalesce(run_at, now()) AS available_at FROM created),
        ${outboxCtes({ queueFrom: "changed" })},
        ${transitionCtes("changed")}
        SELECT created.*, ${NOTICES} AS notices, ${QUEUED} AS queued FROM created
      `.execute(db);
      const byId = new Map(inserted.map((row) => [row.id, withoutBookkeeping(row)]));
      const skipped = inputs.filter((_, i) => !byId.has(ids[i] as string));
      // Reused keys (rare): the first task of each, committed by now (the insert waited for it).
      const existing = skipped.length
        ? await db.selectFrom("tasks").selectAll().where(storedUnderKeys(skipped)).execute()
        : [];
      return inputs.map((input, i): CreateOutcome => {
        const created = byId.get(ids[i] as string);
        if (created) return { kind: "created", task: created };
        // Two requests in one batch with one key: the first inserted, the others replay it.
        const { kind, row } = replayOf(input, existing);
        return { kind, task: row };
      });
    },

    async get(ownerId: string, id: string): Promise<TaskRow | undefined> {
      return db
        .selectFrom("tasks")
        .selectAll()
        .where("id", "=", id)
        .where("owner_id", "=", ownerId)
        .executeTakeFirst();
    },

    /** Newest first; the cursor is the last id of the previous page (ids are time-ordered). */
    async list(
      ownerId: string,
      {
        status,
        limit,
        after,
      }: { status?: TaskStatus | undefined; limit: number; after?: string | undefined },
    ): Promise<TaskPage> {
      let query = db
        .selectFrom("tasks")
        .selectAll()
        .where("owner_id", "=", ownerId)
        .orderBy("id", "desc")
        .limit(limit + 1);
      if (status) query = query.where("status", "=", status);
      if (after) query = query.where("id", "<", after);
      const rows = await query.execute();
      return pageOf(rows, limit);
    },

    /** Counts by status from the running counters: O(statuses), whatever the table holds. */
    async stats(ownerId: string): Promise<Record<TaskStatus, number>> {
      const rows = await db
        .selectFrom("task_counts")
        .select(["status", "count"])
        .where("owner_id", "=", ownerId)
        .execute();
      const stats = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<
        TaskStatus,
        number
      >;
      for (const row of rows) stats[row.status] = Number(row.count);
      return stats;
    },

    async cancel(ownerId: string, id: string): Promise<CancelOutcome> {
      return cancelTask(db, id, { ownerId });
    },

    /** An operator's cancel: any owner's PENDING or RETRYING task. */
    async cancelAnyOwner(id: string, options: { also?: AlsoInTransaction } = {}) {
      return cancelTask(db, id, options);
    },

    /**
     * Gives a FAILED task another round (an operator's retry, or a redrive with an edited
     * `payload`, which replaces the task's): see retryFailedMany.
     */
    async retryFailed(
      id: string,
      options: { payload?: unknown; also?: AlsoInTransaction } = {},
    ): Promise<RetryOutcome> {
      const [task] = await retryFailedTasks(db, [id], options);
      if (task) return { kind: "retried", task };
      const current = await db
        .selectFrom("tasks")
        .select("status")
        .where("id", "=", id)
        .executeTakeFirst();
      return current ? { kind: "not_retryable", status: current.status } : { kind: "not_found" };
    },

    /**
     * Gives FAILED tasks another round, in one transaction: back to PENDING with attempts 0
     * and a fresh queue message in the outbox. `last_error` is kept (why it failed last
     * time). Tasks that are not FAILED (any more) are left alone and not returned.
     */
    async retryFailedMany(
      ids: readonly string[],
      options: { also?: AlsoInTransaction } = {},
    ): Promise<TaskRow[]> {
      return retryFailedTasks(db, ids, options);
    },

    /**
     * Moves deliverable tasks to PROCESSING (attempts + 1) in one transaction and returns
     * them. A PENDING or RETRYING task is taken; a PROCESSING one only when redelivered (its
     * worker died) — and if that worker was on the last attempt, the task becomes FAILED
     * instead. Anything else (done, cancelled, a duplicate message) is not returned.
     */
    async claim(requests: readonly ClaimRequest[]): Promise<ClaimedTask[]> {
      if (requests.length === 0) return [];
      const ids = [...new Set(requests.map((r) => r.taskId))];
      const takeover = [...new Set(requests.filter((r) => r.redelivered).map((r) => r.taskId))];
      const { rows } = await sql<ClaimedTask>`${sql.raw(PREPARED)}
        WITH changed AS (
          UPDATE tasks AS t SET
            status = CASE WHEN prev.status = 'PROCESSING' AND t.attempts >= t.max_attempts
                          THEN 'FAILED' ELSE 'PROCESSING' END,
            attempts = CASE WHEN prev.status = 'PROCESSING' AND t.attempts >= t.max_attempts
                            THEN t.attempts ELSE t.attempts + 1 END,
            last_error = CASE WHEN prev.status = 'PROCESSING' AND t.attempts >= t.max_attempts
                              THEN 'worker stopped during the last attempt' ELSE t.last_error END,
            finished_at = CASE WHEN prev.status = 'PROCESSING' AND t.attempts >= t.max_attempts
                               THEN now() ELSE NULL END,
            started_at = now(),
            first_started_at = coalesce(t.first_started_at, now()),
            updated_at = now()
          FROM (
            SELECT id, status FROM tasks
            WHERE id = ANY(${ids}::uuid[])
              AND (status IN ('PENDING', 'RETRYING')
                   OR (status = 'PROCESSING' AND id = ANY(${takeover}::uuid[])))
            ORDER BY id
            FOR UPDATE
          ) AS prev
          WHERE t.id = prev.id
          RETURNING t.id, t.owner_id, t.type, t.payload, t.attempts, t.max_attempts, t.status,
                    t.created_at, t.started_at, t.finished_at, t.traceparent,
                    prev.status AS previous
        ),
        ${outboxCtes({ events: { route: { to: "outbox" }, ids } })},
        ${transitionCtes("changed")}
        SELECT id, owner_id, type, payload, attempts, max_attempts, status, traceparent,
               ${NOTICES} AS notices, ${QUEUED} AS queued
        FROM changed
      `.execute(db);
      return rows.map(withoutBookkeeping);
    },

    /**
     * Records handler outcomes in one transaction: DONE, RETRYING (with its delayed queue
     * message in the outbox) or FAILED once attempts are spent. An outcome counts only if
     * the task is still PROCESSING in that same attempt: a late finisher whose task was
     * taken over changes nothing. Returns the status each task ended in.
     */
    async finish(
      outcomes: readonly TaskOutcome[],
      retry: RetryPolicy,
    ): Promise<Map<string, TaskStatus>> {
      const ended = new Map<string, TaskStatus>();
      if (outcomes.length === 0) return ended;
      const ids: string[] = [];
      const attempts: number[] = [];
      const oks: boolean[] = [];
      const results: (string | null)[] = [];
      const errors: (string | null)[] = [];
      const retryAts: string[] = [];
      const traceparents: (string | null)[] = [];
      const now = Date.now();
      for (const o of outcomes) {
        ids.push(o.taskId);
        attempts.push(o.attempt);
        oks.push(o.ok);
        results.push(o.ok ? JSON.stringify(o.result ?? null) : null);
        errors.push(o.ok ? null : o.error.slice(0, MAX_ERROR_LENGTH));
        // Used only if the outcome makes the task RETRYING (the attempt is the task's).
        retryAts.push(new Date(now + retryDelayMs(o.attempt, retry)).toISOString());
        traceparents.push(o.traceparent ?? null);
      }
      const { rows } = await sql<{ id: string; status: TaskStatus }>`${sql.raw(PREPARED)}
        WITH changed AS (
          UPDATE tasks AS t SET
            status = CASE WHEN o.ok THEN 'DONE'
                          WHEN t.attempts >= t.max_attempts THEN 'FAILED'
                          ELSE 'RETRYING' END,
            result = CASE WHEN o.ok THEN o.result::jsonb ELSE t.result END,
            last_error = CASE WHEN o.ok THEN t.last_error ELSE o.error END,
            finished_at = CASE WHEN o.ok OR t.attempts >= t.max_attempts THEN now() ELSE NULL END,
            updated_at = now()
          FROM (
            SELECT * FROM unnest(${ids}::uuid[], ${attempts}::int[], ${oks}::bool[],
                                 ${results}::text[], ${errors}::text[], ${retryAts}::timestamptz[],
                                 ${traceparents}::text[])
              AS o(id, attempt, ok, result, error, retry_at, traceparent)
            ORDER BY id
          ) AS o
          WHERE t.id = o.id AND t.status = 'PROCESSING' AND t.attempts = o.attempt
          RETURNING t.id, t.owner_id, t.type, t.priority, t.status, t.attempts, t.created_at,
                    t.started_at, t.finished_at,
                    coalesce(o.traceparent, t.traceparent) AS traceparent,
                    'PROCESSING'::text AS previous, o.retry_at AS available_at
        ),
        retrying AS (SELECT * FROM changed WHERE status = 'RETRYING'),
        ${outboxCtes({ queueFrom: "retrying", events: { route: taskEvents, ids } })},
        ${transitionCtes("changed")}
        SELECT id, status, ${NOTICES} AS notices, ${QUEUED} AS queued FROM changed
      `.execute(db);
      for (const r of rows) ended.set(r.id, r.status);
      return ended;
    },

    /** Current statuses, for deliveries that were not claimed. */
    async statuses(ids: readonly string[]): Promise<Map<string, TaskStatus>> {
      if (ids.length === 0) return new Map();
      const rows = await db
        .selectFrom("tasks")
        .select(["id", "status"])
        .where("id", "=", sql<string>`ANY(${sql.val([...ids])}::uuid[])`)
        .execute();
      return new Map(rows.map((r) => [r.id, r.status]));
    },
  };
}

export type TaskRepository = ReturnType<typeof createTaskRepository>;

async function retryFailedTasks(
  db: Kysely<Database>,
  taskIds: readonly string[],
  options: { payload?: unknown; also?: AlsoInTransaction },
): Promise<TaskRow[]> {
  const ids = [...new Set(taskIds)];
  if (ids.length === 0) return [];
  const payload = options.payload === undefined ? null : JSON.stringify(options.payload);
  return db.transaction().execute(async (trx) => {
    // Rows are locked in id order, like every batch here, so two retries cannot deadlock.
    const { rows } = await sql<TaskRow>`
      WITH changed AS (
        UPDATE tasks AS t SET
          status = 'PENDING', attempts = 0, finished_at = NULL, result = NULL,
          payload = coalesce(${payload}::jsonb, t.payload), updated_at = now()
        FROM (
          SELECT id FROM tasks WHERE id = ANY(${ids}::uuid[]) AND status = 'FAILED'
          ORDER BY id FOR UPDATE
        ) AS failed
        WHERE t.id = failed.id
        RETURNING t.*, 'FAILED'::text AS previous, now() AS available_at
      ),
      ${outboxCtes({ queueFrom: "changed" })},
      ${transitionCtes("changed")}
      SELECT *, ${NOTICES} AS notices, ${QUEUED} AS queued FROM changed
    `.execute(trx);
    const tasks = rows.map(withoutBookkeeping);
    await options.also?.(trx, tasks);
    return tasks;
  });
}

/** Cancels a PENDING or RETRYING task; scoped to `ownerId` when given (a user's own cancel). */
async function cancelTask(
  db: Kysely<Database>,
  id: string,
  scope: { ownerId?: string; also?: AlsoInTransaction },
): Promise<CancelOutcome> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<TaskRow>`
      WITH changed AS (
        UPDATE tasks AS t SET status = 'CANCELLED', finished_at = now(), updated_at = now()
        FROM (
          SELECT id, status FROM tasks
          WHERE id = ${id} AND status = ANY(${CANCELLABLE_STATUSES}::text[])
            AND (${scope.ownerId ?? null}::uuid IS NULL OR owner_id = ${scope.ownerId ?? null}::uuid)
          FOR UPDATE
        ) AS prev
        WHERE t.id = prev.id
        RETURNING t.*, prev.status AS previous
      ),
      ${transitionCtes("changed")}
      SELECT *, ${NOTICES} AS notices FROM changed
    `.execute(trx);
    const [changed] = rows;
    if (changed) {
      const task = withoutBookkeeping(changed);
      await scope.also?.(trx, [task]);
      return { kind: "cancelled", task };
    }
    let query = trx.selectFrom("tasks").select("status").where("id", "=", id);
    if (scope.ownerId) query = query.where("owner_id", "=", scope.ownerId);
    const current = await query.executeTakeFirst();
    return current ? { kind: "not_cancellable", status: current.status } : { kind: "not_found" };
  });
}

/** A row as stored: drops the bookkeeping columns a statement above adds to its RETURNING. */
function withoutBookkeeping<T extends object>(
  row: T & { previous?: unknown; available_at?: unknown; notices?: unknown; queued?: unknown },
): T {
  const { previous: _p, available_at: _a, notices: _n, queued: _q, ...stored } = row;
  return stored as T;
}
