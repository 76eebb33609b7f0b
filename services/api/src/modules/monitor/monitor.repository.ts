import {
  type AuditLogRow,
  type Database,
  type JobHistoryRow,
  type JobHistoryState,
  type Kysely,
  listHeartbeats,
  pageOf,
  sql,
  type TaskRow,
  type TaskStatus,
} from "@taskflow/db";
import { TASK_QUEUE_DESTINATION } from "@taskflow/tasks";

/** Who did what to what: one audit_log row. */
export interface AuditEntry {
  actor: { id: string; email: string };
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export interface TaskSearch {
  status?: TaskStatus | undefined;
  type?: string | undefined;
  q?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
  /** The last id of the previous page. */
  before?: string | undefined;
}

export interface JobSearch {
  /** The job queue's name: the history holds every queue's jobs. */
  queue: string;
  state?: JobHistoryState | undefined;
  /** The job's name. */
  type?: string | undefined;
  /** A job id (exact), or text in the job's data (case-insensitive). */
  q?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
  /** The last row of the previous page. */
  before?: JobCursor | undefined;
}

/** A position in the newest-first order: created_at to the microsecond, then job id. */
export interface JobCursor {
  /** UTC, with microseconds, e.g. 2026-11-23T15:00:00.123456Z. */
  createdAt: string;
  jobId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Task ids are UUIDv7 and created_at is set in the same instant, give or take: a created_at
// range is also an id range with this much slack, which the primary key serves.
const ID_RANGE_SLACK_MS = 60_000;
const SEARCH_TIMEOUT = "5s";

/** The smallest UUIDv7 of a millisecond: ids of tasks created at or after it sort after it. */
function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0").slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The monitor's reads across all owners, and its audit log. Task changes go through TaskRepository. */
export function createMonitorRepository(db: Kysely<Database>) {
  return {
    /** On the caller's transaction when given one, so the record commits with the action. */
    async appendAudit(entry: AuditEntry, trx: Kysely<Database> = db): Promise<void> {
      await trx
        .insertInto("audit_log")
        .values({
          actor_id: entry.actor.id,
          actor_email: entry.actor.email,
          action: entry.action,
          target: entry.target,
          details: JSON.stringify(entry.details ?? {}),
        })
        .execute();
    },

    /** Newest first; `before` is the last id of the previous page. */
    async listAudit({
      limit,
      before,
    }: {
      limit: number;
      before?: number | undefined;
    }): Promise<{ items: AuditLogRow[]; nextCursor: number | null }> {
      let query = db
        .selectFrom("audit_log")
        .selectAll()
        .orderBy("id", "desc")
        .limit(limit + 1);
      if (before !== undefined) query = query.where("id", "<", before);
      const rows = await query.execute();
      return pageOf(rows, limit);
    },

    /**
     * Every owner's tasks, newest first, filtered; keyset pages by id. It walks the primary
     * key backwards (a created_at range narrows that walk); text of three characters or more
     * is looked up in a trigram index instead when the planner expects few matches. A filter
     * that matches little of a large table can still take long: the statement is cut off
     * after a few seconds.
     */
    async searchTasks(
      search: TaskSearch,
    ): Promise<{ items: TaskRow[]; nextCursor: string | null }> {
      return db.transaction().execute(async (trx) => {
        await sql`SET LOCAL statement_timeout = ${sql.lit(SEARCH_TIMEOUT)}`.execute(trx);
        let query = trx
          .selectFrom("tasks")
          .selectAll()
          .orderBy("id", "desc")
          .limit(search.limit + 1);
        if (search.status) query = query.where("status", "=", search.status);
        if (search.type) query = query.where("type", "=", search.type);
        if (search.before) query = query.where("id", "<", search.before);
        if (search.from) {
          query = query
            .where("created_at", ">=", search.from)
            .where("id", ">=", uuidv7Floor(search.from.getTime() - ID_RANGE_SLACK_MS));
        }
        if (search.to) {
          query = query
            .where("created_at", "<", search.to)
            .where("id", "<", uuidv7Floor(search.to.getTime() + ID_RANGE_SLACK_MS));
        }
        const { q } = search;
        if (q) {
          // Served by tasks_payload_trgm_idx, built on exactly this expression.
          const inPayload = sql<boolean>`payload::text ILIKE ${likePattern(q)}`;
          query = UUID.test(q)
            ? query.where((eb) => eb.or([eb("id", "=", q), inPayload]))
            : query.where(inPayload);
        }
        return pageOf(await query.execute(), search.limit);
      });
    },

    /**
     * Jobs from the history, newest first (created_at, then id), filtered; keyset pages. Each
     * filter but the text has an index that keeps this order (job_history_*_idx), so a page
     * is a short index range; text in data is checked along the way, or looked up in a
     * trigram index when the planner expects few matches, under a time limit.
     */
    async searchJobs(
      search: JobSearch,
    ): Promise<{ items: JobHistoryRow[]; nextCursor: JobCursor | null }> {
      return db.transaction().execute(async (trx) => {
        await sql`SET LOCAL statement_timeout = ${sql.lit(SEARCH_TIMEOUT)}`.execute(trx);
        // The cursor's time as text: a Date would lose the microseconds, and skip or repeat rows.
        const at = sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
        let query = trx
          .selectFrom("job_history")
          .selectAll()
          .select(at.as("cursor_at"))
          .where("queue", "=", search.queue)
          .orderBy("created_at", "desc")
          .orderBy("job_id", "desc")
          .limit(search.limit + 1);
        if (search.state) query = query.where("state", "=", search.state);
        if (search.type) query = query.where("name", "=", search.type);
        if (search.from) query = query.where("created_at", ">=", search.from);
        if (search.to) query = query.where("created_at", "<", search.to);
        if (search.before) {
          const { createdAt, jobId } = search.before;
          query = query.where(
            sql<boolean>`(created_at, job_id) < (${createdAt}::timestamptz, ${jobId})`,
          );
        }
        const { q } = search;
        if (q) {
          // The primary key, or job_history_data_trgm_idx (built on exactly this expression).
          query = query.where((eb) =>
            eb.or([eb("job_id", "=", q), sql<boolean>`data::text ILIKE ${likePattern(q)}`]),
          );
        }
        const rows = await query.execute();
        const page = rows.slice(0, search.limit);
        const last = page.at(-1);
        return {
          items: page.map(({ cursor_at: _, ...row }) => row),
          nextCursor:
            rows.length > search.limit && last
              ? { createdAt: last.cursor_at, jobId: last.job_id }
              : null,
        };
      });
    },

    async tasksByIds(ids: readonly string[]): Promise<TaskRow[]> {
      const valid = ids.filter((id) => UUID.test(id));
      if (valid.length === 0) return [];
      return db
        .selectFrom("tasks")
        .selectAll()
        .where("id", "=", sql<string>`ANY(${sql.val(valid)}::uuid[])`)
        .execute();
    },

    /**
     * The task side of the queue's numbers, from the database: tasks finished in the last
     * minute by status (an index range: tasks_finished_at_idx), PROCESSING tasks (the
     * counters: one row per owner) and retries waiting out their backoff in the outbox.
     */
    async taskQueueNumbers(): Promise<{
      finishedLastMinute: { DONE: number; FAILED: number; CANCELLED: number };
      processing: number;
      delayed: number;
    }> {
      const { rows } = await sql<{
        done: number;
        failed: number;
        cancelled: number;
        processing: number;
        delayed: number;
      }>`
        SELECT
          count(*) FILTER (WHERE status = 'DONE')::int AS done,
          count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
          count(*) FILTER (WHERE status = 'CANCELLED')::int AS cancelled,
          (SELECT coalesce(sum(count), 0)::int FROM task_counts
            WHERE status = 'PROCESSING') AS processing,
          (SELECT count(*)::int FROM outbox
            WHERE available_at > now() AND destination = ${TASK_QUEUE_DESTINATION}) AS delayed
        FROM tasks
        WHERE finished_at IS NOT NULL AND finished_at > now() - interval '1 minute'
      `.execute(db);
      const row = rows[0];
      return {
        finishedLastMinute: {
          DONE: row?.done ?? 0,
          FAILED: row?.failed ?? 0,
          CANCELLED: row?.cancelled ?? 0,
        },
        processing: Math.max(0, row?.processing ?? 0),
        delayed: row?.delayed ?? 0,
      };
    },

    listHeartbeats: () => listHeartbeats(db),
  };
}

export type MonitorRepository = ReturnType<typeof createMonitorRepository>;
