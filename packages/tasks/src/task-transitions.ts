import { OUTBOX_CHANNEL, type RawBuilder, sql } from "@taskflow/db";
import { embeddedAppendCtes, eventStreamDestination, partitionOf } from "@taskflow/messaging";
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
 * Where a statement puts the task.done / task.failed events of the tasks it ends:
 * - `outbox`: one outbox row per statement (an EventBatch); the relay appends the events to
 *   whichever engine the event stream runs on.
 * - `embedded-stream`: straight into the embedded stream's log, in the same transaction, when
 *   it lives in the application database (no TASKFLOW_STREAM_URL). No outbox row, no relay
 *   round trip, no second commit; `partitions` is the `tasks` topic's partition count.
 */
export type TaskEventRoute = { to: "outbox" } | { to: "embedded-stream"; partitions: number };

/** The envelope of the task.done / task.failed event of `task`, a row that ended. */
function taskEventValue(task: string): RawBuilder<unknown> {
  const t = sql.raw(task);
  return sql`jsonb_build_object(
    'id', ${taskEventId(t)},
    'type', CASE ${t}.status WHEN 'DONE' THEN ${TASK_DONE} ELSE ${TASK_FAILED} END,
    'occurred_at', ${t}.finished_at,
    'schema_version', 1,
    'data', jsonb_build_object(
      'task_id', ${t}.id, 'owner_id', ${t}.owner_id, 'type', ${t}.type, 'status', ${t}.status,
      'attempts', ${t}.attempts, 'created_at', ${t}.created_at, 'started_at', ${t}.started_at,
      'finished_at', ${t}.finished_at))`;
}

/**
 * CTEs that write what must follow the rows of the statement's `changed` CTE, and wake the
 * relay when they wrote outbox rows:
 * - `queued`: a task-queue message in the outbox for each row of `queueFrom` (with `id`,
 *   `type`, `priority`, and `available_at`: when the message is due);
 * - with `events`, a task.done / task.failed event (keyed by task id) for each row of
 *   `changed` that ended (with `owner_id`, `type`, `status`, `attempts`, `created_at`,
 *   `started_at`, `finished_at`, `traceparent`), by its route: `task_events`, one outbox row
 *   (an EventBatch) per statement, not one per task; or `task_event_records` appended to the
 *   embedded stream (`partitionOf` each task id, given as `ids` / `partitions` arrays).
 * Read `QUEUED` in the statement so the wake-ups run.
 */
export function outboxCtes(options: {
  queueFrom?: string;
  /** `ids`: the statement's task ids (the embedded route places each event by its id). */
  events?: { route: TaskEventRoute; ids: readonly string[] };
}) {
  const parts: RawBuilder<unknown>[] = [];
  const written: string[] = [];
  let streamWoken = false;
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
  const events = options.events;
  if (events?.route.to === "outbox") {
    written.push("task_events");
    // An EventBatch of packages/messaging, built here so it costs no round trip.
    parts.push(sql`
    task_events AS (
      INSERT INTO outbox (destination, payload)
      SELECT ${eventStreamDestination(TASKS_TOPIC)},
             jsonb_build_object('events', jsonb_agg(jsonb_build_object(
               'key', id::text,
               'headers', ${traceHeaders},
               'event', ${taskEventValue("changed")}) ORDER BY id))
      FROM changed
      WHERE status IN ('DONE', 'FAILED')
      HAVING count(*) > 0
      RETURNING 1
    )`);
  } else if (events?.route.to === "embedded-stream") {
    streamWoken = true;
    const { route, ids } = events;
    const partitions = ids.map((id) => partitionOf(id, route.partitions));
    parts.push(sql`
    task_event_records AS (
      SELECT p.partition, ${taskEventId(sql.raw("changed"))}::text AS event_id,
             changed.id::text AS key, ${taskEventValue("changed")} AS value,
             ${traceHeaders} AS headers, row_number() OVER (ORDER BY changed.id) AS ord
      FROM changed JOIN unnest(${ids}::uuid[], ${partitions}::int[]) AS p(id, partition)
        ON p.id = changed.id
      WHERE changed.status IN ('DONE', 'FAILED')
    ),
    ${embeddedAppendCtes(TASKS_TOPIC, "task_event_records")}`);
  }
  const any = sql.join(
    written.map((name) => sql`EXISTS (SELECT FROM ${sql.table(name)})`),
    sql` OR `,
  );
  parts.push(sql`
    relay_woken AS (SELECT pg_notify(${OUTBOX_CHANNEL}, '') WHERE ${written.length ? any : sql`false`})`);
  parts.push(
    sql`
    woken AS (SELECT 1 FROM relay_woken ${streamWoken ? sql`UNION ALL SELECT 1 FROM stream_woken` : sql``})`,
  );
  return sql.join(parts, sql`,`);
}

/** A select-list item that makes the statement run its wake-ups (`relay_woken`, `stream_woken`). */
export const QUEUED = sql`(SELECT count(*) FROM woken)`;
