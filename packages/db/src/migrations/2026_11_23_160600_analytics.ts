import { type Kysely, sql } from "kysely";

/**
 * The analytics service's own tables (services/analytics): per-minute aggregates of the
 * `orders` and `tasks` event streams, and the ids of the events already counted. An event's
 * id and its effect on the aggregates are written in one transaction, so a redelivered event
 * changes nothing. Minutes are the event's own time (an order's created_at, a task's
 * finished_at) truncated to the minute, in UTC: a rebuild puts every event where it was.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("analytics_processed_events")
    // The consumer group that counted it: each consumer of the stream dedupes on its own.
    .addColumn("consumer", "text", (c) => c.notNull())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("processed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("analytics_processed_events_pkey", ["consumer", "event_id"])
    .execute();

  await db.schema
    .createTable("analytics_order_minutes")
    .addColumn("minute", "timestamptz", (c) => c.notNull())
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("orders", "bigint", (c) => c.notNull())
    .addColumn("revenue_cents", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("analytics_order_minutes_pkey", ["minute", "currency"])
    .execute();

  await db.schema
    .createTable("analytics_product_minutes")
    .addColumn("minute", "timestamptz", (c) => c.notNull())
    .addColumn("sku", "text", (c) => c.notNull())
    .addColumn("currency", "text", (c) => c.notNull())
    // The name the last counted order gave it.
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("quantity", "bigint", (c) => c.notNull())
    .addColumn("revenue_cents", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("analytics_product_minutes_pkey", ["minute", "sku", "currency"])
    .execute();

  await db.schema
    .createTable("analytics_task_minutes")
    .addColumn("minute", "timestamptz", (c) => c.primaryKey())
    .addColumn("completed", "bigint", (c) => c.notNull())
    .addColumn("failed", "bigint", (c) => c.notNull())
    .execute();

  // Time-to-DONE per minute as a histogram of log-spaced buckets (1 % relative width): a
  // minute holds at most ~1,100 rows whatever the throughput, and percentiles are read from
  // cumulative counts. `value_ms` is the bucket's representative value, so readers need not
  // know the bucketing.
  await db.schema
    .createTable("analytics_task_durations")
    .addColumn("minute", "timestamptz", (c) => c.notNull())
    .addColumn("bucket", "integer", (c) => c.notNull())
    .addColumn("value_ms", "double precision", (c) => c.notNull())
    .addColumn("count", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("analytics_task_durations_pkey", ["minute", "bucket"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("analytics_task_durations").ifExists().execute();
  await db.schema.dropTable("analytics_task_minutes").ifExists().execute();
  await db.schema.dropTable("analytics_product_minutes").ifExists().execute();
  await db.schema.dropTable("analytics_order_minutes").ifExists().execute();
  await db.schema.dropTable("analytics_processed_events").ifExists().execute();
}
