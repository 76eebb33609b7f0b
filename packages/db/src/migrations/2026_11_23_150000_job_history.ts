import { type Kysely, sql } from "kysely";

/**
 * The history of background jobs, whatever engine runs them (BullMQ forgets completed jobs
 * after a day; a purge forgets at once): one row per job, kept up to date by the JobQueue
 * decorator `withJobHistory` and deleted by the retention pruner. The monitor searches it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("job_history")
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("job_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    // The job's state as last recorded (an engine may have moved on since: a delayed job
    // that became due is still "delayed" here until it starts).
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state IN ('waiting','delayed','active','completed','failed')`),
    )
    .addColumn("priority", "smallint", (c) => c.notNull().defaultTo(5))
    .addColumn("attempts_made", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("max_attempts", "integer", (c) => c.notNull())
    .addColumn("data", "jsonb", (c) => c.notNull())
    .addColumn("result", "jsonb")
    .addColumn("failed_reason", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // Delayed when added: not before this time.
    .addColumn("run_at", "timestamptz")
    .addColumn("started_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    // Purged from the engine: the history stays (until the retention deletes it).
    .addColumn("removed_at", "timestamptz")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("job_history_pkey", ["queue", "job_id"])
    .execute();
  // The monitor's searches: newest first (keyset on created_at, job_id) in one queue, by
  // state or by name; a job id is the primary key; text in data scans within these ranges.
  await sql`CREATE INDEX job_history_created_idx
            ON job_history (queue, created_at DESC, job_id DESC)`.execute(db);
  await sql`CREATE INDEX job_history_state_idx
            ON job_history (queue, state, created_at DESC, job_id DESC)`.execute(db);
  await sql`CREATE INDEX job_history_name_idx
            ON job_history (queue, name, created_at DESC, job_id DESC)`.execute(db);
  // The retention: finished jobs, and purged ones that never finished. Partial, so rows
  // still in progress add nothing to them.
  await sql`CREATE INDEX job_history_finished_idx ON job_history (finished_at)
            WHERE finished_at IS NOT NULL`.execute(db);
  await sql`CREATE INDEX job_history_removed_idx ON job_history (removed_at)
            WHERE finished_at IS NULL AND removed_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("job_history").ifExists().execute();
}
