import { type Kysely, sql } from "kysely";

/**
 * Tracing and journeys (issue 7). Every column is written by a statement that writes the row
 * anyway — never by one more statement per task:
 * - `tasks.traceparent`, `orders.traceparent`: the W3C trace context of the request that made
 *   the row (its trace id is the journey's); task messages written later (retries) carry it.
 * - `tasks.first_started_at`: the first claim (`started_at` is the latest attempt's), so a
 *   journey shows the wait in the queue.
 * - `orders.validated_ms`: how long the validator took (gRPC) before the order was stored.
 * - `queue_jobs.headers`: the embedded job queue's message headers (the trace context).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE tasks ADD COLUMN traceparent text, ADD COLUMN first_started_at timestamptz`.execute(
    db,
  );
  await sql`ALTER TABLE orders ADD COLUMN traceparent text, ADD COLUMN validated_ms integer`.execute(
    db,
  );
  await sql`ALTER TABLE queue_jobs ADD COLUMN headers jsonb NOT NULL DEFAULT '{}'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE queue_jobs DROP COLUMN headers`.execute(db);
  await sql`ALTER TABLE orders DROP COLUMN traceparent, DROP COLUMN validated_ms`.execute(db);
  await sql`ALTER TABLE tasks DROP COLUMN traceparent, DROP COLUMN first_started_at`.execute(db);
}
