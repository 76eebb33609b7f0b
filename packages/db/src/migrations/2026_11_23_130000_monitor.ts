import { type Kysely, sql } from "kysely";

/**
 * The monitor: a heartbeat row per running worker or mailer process (a random id per start,
 * so a restart is a new row and the old one goes offline), and an append-only audit log of
 * the operators' actions. Also an index for the monitor's "finished in the last minute".
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("process_heartbeats")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("pid", "integer", (c) => c.notNull())
    .addColumn("started_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // The process's own beat interval: it is offline after three missed beats.
    .addColumn("interval_ms", "integer", (c) => c.notNull().check(sql`interval_ms > 0`))
    .addColumn("concurrency", "integer", (c) => c.notNull())
    .addColumn("in_flight", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("processed", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("failed", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("beat_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // Set by a clean shutdown: "stopped" rather than "offline" (which means it vanished).
    .addColumn("stopped_at", "timestamptz")
    .execute();

  await db.schema
    .createTable("audit_log")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // No foreign key: the record outlives the operator's account.
    .addColumn("actor_id", "uuid", (c) => c.notNull())
    .addColumn("actor_email", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("details", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();

  // "Tasks finished in the last minute, by status" as an index range (index-only) instead
  // of a scan of every task. Partial: a task that is not finished has no entry, so claims
  // and retries do not touch it; each finish adds one entry.
  await sql`CREATE INDEX tasks_finished_at_idx ON tasks (finished_at, status)
            WHERE finished_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS tasks_finished_at_idx`.execute(db);
  await db.schema.dropTable("audit_log").ifExists().execute();
  await db.schema.dropTable("process_heartbeats").ifExists().execute();
}
