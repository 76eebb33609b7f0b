import { OUTBOX_CHANNEL, type RawBuilder, sql } from "@taskflow/db";
import { TASK_EVENTS_CHANNEL, TASK_QUEUE_DESTINATION } from "./task.ts";

// pg_notify payloads are capped at 8000 bytes; a change is ~100 bytes as JSON.
const CHANGES_PER_NOTIFY = 50;

/**
 * The bookkeeping of a status change, as CTEs to append to the statement that makes it, so
 * a change costs one round trip: `changed` names an earlier CTE whose rows have `id`,
 * `owner_id`, `status` and `previous` (the status before; NULL for a task just created).
 *
 * - `counted` adjusts the per-owner counters. Rows are locked in (owner_id, status) order in
 *   every statement, so concurrent batches cannot deadlock.
 * - `notified` tells live listeners (TASK_EVENTS_CHANNEL, a JSON array of TaskChange per
 *   notice); delivered only if the transaction commits.
 *
 * The statement must read `notified` (see `NOTICES`): an unread SELECT CTE does not run.
 */
export function transitionCtes(changed: string): RawBuilder<unknown> {
  const source = sql.table(changed);
  return sql`
    counted AS (
      INSERT INTO task_counts (owner_id, status, count)
      SELECT owner_id, status, sum(delta) FROM (
        SELECT owner_id, status, 1 AS delta FROM ${source}
        UNION ALL
        SELECT owner_id, previous, -1 FROM ${source} WHERE previous IS NOT NULL
      ) AS deltas
      GROUP BY owner_id, status
      HAVING sum(delta) <> 0
      ORDER BY owner_id, status
      ON CONFLICT (owner_id, status) DO UPDATE SET count = task_counts.count + excluded.count
    ),
    notified AS (
      SELECT pg_notify(${TASK_EVENTS_CHANNEL},
                       json_agg(json_build_object('owner_id', owner_id, 'id', id, 'status', status))::text)
      FROM (SELECT owner_id, id, status,
                   (row_number() OVER () - 1) / ${sql.lit(CHANGES_PER_NOTIFY)} AS notice
            FROM ${source}) AS changes
      GROUP BY notice
    )`;
}

/** A select-list item that makes the statement run `notified` (once: it is uncorrelated). */
export const NOTICES = sql`(SELECT count(*) FROM notified)`;

/**
 * A CTE `queued` that puts a task-queue message in the outbox for each row of `source` (with
 * `id`, `type`, `priority`, and `available_at`: when the message is due), and wakes the relay.
 * Read `QUEUED` in the statement so the wake-up runs.
 */
export function queueMessageCtes(source: string): RawBuilder<unknown> {
  const rows = sql.table(source);
  return sql`
    queued AS (
      INSERT INTO outbox (destination, message_key, payload, available_at)
      SELECT ${TASK_QUEUE_DESTINATION}, id::text,
             jsonb_build_object('task_id', id, 'type', type, 'priority', priority),
             available_at
      FROM ${rows}
      ORDER BY id
      RETURNING 1
    ),
    relay_woken AS (
      SELECT pg_notify(${OUTBOX_CHANNEL}, '') WHERE EXISTS (SELECT FROM queued)
    )`;
}

/** A select-list item that makes the statement run `relay_woken`. */
export const QUEUED = sql`(SELECT count(*) FROM relay_woken)`;
