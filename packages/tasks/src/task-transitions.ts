import { OUTBOX_CHANNEL, type RawBuilder, sql } from "@taskflow/db";
import { eventStreamDestination } from "@taskflow/messaging";
import {
  TASK_DONE,
  TASK_EVENTS_CHANNEL,
  TASK_FAILED,
  TASK_QUEUE_DESTINATION,
  TASKS_TOPIC,
} from "./task.ts";

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
 * The headers of a task's messages: its trace context, when it has one. (The relay hands
 * them to the engine as message headers: the trace context never enters a message body.)
 */
const traceHeaders = sql`CASE WHEN traceparent IS NULL THEN '{}'::jsonb
  ELSE jsonb_build_object('traceparent', traceparent) END`;

/**
 * The id of the task.done / task.failed event of a task that ended (`finished_at`): derived
 * from the task, so a journey finds the event's consumers (analytics' processed ids) without
 * storing it, and a task that ends again after a redrive makes another event.
 */
export function taskEventId(task: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`md5(${task}.id::text || ':' || ${task}.status || ':' ||
    extract(epoch from ${task}.finished_at)::text)::uuid`;
}

/**
 * CTEs that put outbox rows for the rows of the statement's `changed` CTE, and wake the relay
 * when they did:
 * - `queued`: a task-queue message for each row of `queueFrom` (with `id`, `type`,
 *   `priority`, and `available_at`: when the message is due);
 * - `task_events`: with `withEvents`, one outbox row for the `tasks` stream holding a
 *   task.done / task.failed event (an EventBatch, keyed by task id) for each row of `changed`
 *   that ended (with `owner_id`, `status`, `attempts`, `created_at`, `started_at`,
 *   `finished_at`): one row per statement, not one per task.
 * Read `QUEUED` in the statement so the wake-up runs.
 */
export function outboxCtes(options: { queueFrom?: string; withEvents?: boolean }) {
  const parts: RawBuilder<unknown>[] = [];
  const written: string[] = [];
  if (options.queueFrom) {
    written.push("queued");
    parts.push(sql`
    queued AS (
      INSERT INTO outbox (destination, message_key, payload, available_at, headers)
      SELECT ${TASK_QUEUE_DESTINATION}, id::text,
             jsonb_build_object('task_id', id, 'type', type, 'priority', priority),
             available_at, ${traceHeaders}
      FROM ${sql.table(options.queueFrom)}
      ORDER BY id
      RETURNING 1
    )`);
  }
  if (options.withEvents) {
    written.push("task_events");
    // An EventBatch of packages/messaging, built here so it costs no round trip.
    parts.push(sql`
    task_events AS (
      INSERT INTO outbox (destination, payload)
      SELECT ${eventStreamDestination(TASKS_TOPIC)},
             jsonb_build_object('events', jsonb_agg(jsonb_build_object(
               'key', id::text,
               'headers', ${traceHeaders},
               'event', jsonb_build_object(
                 'id', ${taskEventId(sql.raw("changed"))},
                 'type', CASE status WHEN 'DONE' THEN ${TASK_DONE} ELSE ${TASK_FAILED} END,
                 'occurred_at', finished_at,
                 'schema_version', 1,
                 'data', jsonb_build_object(
                   'task_id', id, 'owner_id', owner_id, 'type', type, 'status', status,
                   'attempts', attempts, 'created_at', created_at, 'started_at', started_at,
                   'finished_at', finished_at))) ORDER BY id))
      FROM changed
      WHERE status IN ('DONE', 'FAILED')
      HAVING count(*) > 0
      RETURNING 1
    )`);
  }
  const any = sql.join(
    written.map((name) => sql`EXISTS (SELECT FROM ${sql.table(name)})`),
    sql` OR `,
  );
  parts.push(sql`
    relay_woken AS (SELECT pg_notify(${OUTBOX_CHANNEL}, '') WHERE ${any})`);
  return sql.join(parts, sql`,`);
}

/** A select-list item that makes the statement run `relay_woken`. */
export const QUEUED = sql`(SELECT count(*) FROM relay_woken)`;
