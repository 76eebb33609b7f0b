import { type Database, type Kysely, sql } from "@taskflow/db";
import { ORDER_CONFIRMATION_EMAIL_JOB } from "@taskflow/mail";
import { taskEventId } from "@taskflow/tasks";

/** What a task's journey is read from: its row, and the consumers of its end event. */
export interface TaskJourneyRow {
  id: string;
  status: string;
  attempts: number;
  traceparent: string | null;
  created_at: Date;
  run_at: Date | null;
  first_started_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  last_error: string | null;
  /** analytics' processed_at for the task's task.done / task.failed event. */
  counted_at: Date | null;
}

/** What an order's journey is read from: its row, its notification, email job, analytics. */
export interface OrderJourneyRow {
  id: string;
  traceparent: string | null;
  created_at: Date;
  validated_ms: number | null;
  notified_at: Date | null;
  email_added_at: Date | null;
  email_started_at: Date | null;
  email_finished_at: Date | null;
  email_state: string | null;
  counted_at: Date | null;
}

/**
 * Reads journeys from what the pipeline records anyway — one statement each, by primary keys
 * (the event ids are derived from the task or order, the email's job id from the order).
 */
export function createJourneyRepository(
  db: Kysely<Database>,
  options: { analyticsGroup: string; jobQueue: string },
) {
  return {
    async task(ownerId: string, id: string): Promise<TaskJourneyRow | undefined> {
      const { rows } = await sql<TaskJourneyRow>`
        SELECT t.id, t.status, t.attempts, t.traceparent, t.created_at, t.run_at,
               t.first_started_at, t.started_at, t.finished_at, t.last_error,
               (SELECT a.processed_at FROM analytics_processed_events a
                WHERE t.status IN ('DONE', 'FAILED')
                  AND a.consumer = ${options.analyticsGroup}
                  AND a.event_id = ${taskEventId(sql.raw("t"))}::text) AS counted_at
        FROM tasks t
        WHERE t.id = ${id} AND t.owner_id = ${ownerId}
      `.execute(db);
      return rows[0];
    },

    async order(ownerId: string, id: string): Promise<OrderJourneyRow | undefined> {
      const { rows } = await sql<OrderJourneyRow>`
        SELECT o.id, o.traceparent, o.created_at, o.validated_ms,
               n.created_at AS notified_at,
               j.created_at AS email_added_at, j.started_at AS email_started_at,
               j.finished_at AS email_finished_at, j.state AS email_state,
               a.processed_at AS counted_at
        FROM orders o
        LEFT JOIN notifications n ON n.event_id = o.id::text
        LEFT JOIN job_history j
          ON j.queue = ${options.jobQueue}
         AND j.job_id = ${`${ORDER_CONFIRMATION_EMAIL_JOB}.${id}`}
        LEFT JOIN analytics_processed_events a
          ON a.consumer = ${options.analyticsGroup} AND a.event_id = o.id::text
        WHERE o.id = ${id} AND o.owner_id = ${ownerId}
      `.execute(db);
      return rows[0];
    },
  };
}

export type JourneyRepository = ReturnType<typeof createJourneyRepository>;
