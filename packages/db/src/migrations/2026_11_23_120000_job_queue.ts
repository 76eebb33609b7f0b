import { type Kysely, sql } from "kysely";

/**
 * The embedded job queue (no TASKFLOW_REDIS_URL): one row per job, keyed by (queue, id) so
 * adding a known id is a no-op. "Delayed" is not stored: it is `waiting` with a future
 * `run_at`. An `active` row belongs to a processor until `locked_until` (its lease).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("queue_jobs")
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("id", "text", (c) => c.notNull())
    // Insertion order: first come, first served among jobs of one priority and run_at.
    .addColumn("seq", "bigint", (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("data", "jsonb", (c) => c.notNull())
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state IN ('waiting','active','completed','failed')`),
    )
    .addColumn("priority", "smallint", (c) => c.notNull().check(sql`priority BETWEEN 0 AND 9`))
    .addColumn("attempts_made", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("max_attempts", "integer", (c) => c.notNull().check(sql`max_attempts >= 1`))
    .addColumn("backoff_ms", "integer", (c) => c.notNull().check(sql`backoff_ms >= 0`))
    .addColumn("run_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("locked_until", "timestamptz")
    .addColumn("failed_reason", "text")
    .addColumn("result", "jsonb")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("finished_at", "timestamptz")
    .addPrimaryKeyConstraint("queue_jobs_pkey", ["queue", "id"])
    .execute();
  // What a processor takes next; finished jobs stay out of this index.
  await sql`CREATE INDEX queue_jobs_runnable_idx ON queue_jobs (queue, priority, run_at, seq)
            WHERE state = 'waiting'`.execute(db);
  // Counts, lists by state, and the search for expired leases.
  await sql`CREATE INDEX queue_jobs_state_idx ON queue_jobs (queue, state, created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("queue_jobs").ifExists().execute();
}
