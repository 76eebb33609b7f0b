import { type Kysely, sql } from "kysely";

/** `run_at` on tasks (start no earlier than) and recurring tasks from cron schedules. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("tasks").addColumn("run_at", "timestamptz").execute();

  await db.schema
    .createTable("schedules")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("owner_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("cron", "text", (c) => c.notNull())
    .addColumn("timezone", "text", (c) => c.notNull())
    .addColumn("task_type", "text", (c) => c.notNull())
    .addColumn("task_title", "text")
    .addColumn("task_payload", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("task_max_attempts", "integer", (c) =>
      c.notNull().check(sql`task_max_attempts BETWEEN 1 AND 100`),
    )
    .addColumn("paused", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("next_run_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_run_at", "timestamptz")
    .addColumn("last_task_id", "uuid")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX schedules_owner_id_idx ON schedules (owner_id, id DESC)`.execute(db);
  // The scheduler's only question: which active schedules are due?
  await sql`CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE NOT paused`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("schedules").execute();
  await db.schema.alterTable("tasks").dropColumn("run_at").execute();
}
