import { type Kysely, sql } from "kysely";

/**
 * Task priority (on tasks and on the schedules that create them), 0 (most urgent) … 9, default 5 — the same scale as background jobs. The
 * embedded queue takes its messages in priority order, so its messages carry it too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("tasks")
    .addColumn("priority", "smallint", (c) =>
      c.notNull().defaultTo(5).check(sql`priority BETWEEN 0 AND 9`),
    )
    .execute();
  await db.schema
    .alterTable("schedules")
    .addColumn("task_priority", "smallint", (c) =>
      c.notNull().defaultTo(5).check(sql`task_priority BETWEEN 0 AND 9`),
    )
    .execute();
  await db.schema
    .alterTable("queue_messages")
    .addColumn("priority", "smallint", (c) => c.notNull().defaultTo(5))
    .execute();
  await sql`DROP INDEX queue_messages_visible_idx`.execute(db);
  await sql`CREATE INDEX queue_messages_runnable_idx
            ON queue_messages (queue, priority, visible_at, id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX queue_messages_runnable_idx`.execute(db);
  await sql`CREATE INDEX queue_messages_visible_idx ON queue_messages (queue, visible_at, id)`.execute(
    db,
  );
  await db.schema.alterTable("queue_messages").dropColumn("priority").execute();
  await db.schema.alterTable("schedules").dropColumn("task_priority").execute();
  await db.schema.alterTable("tasks").dropColumn("priority").execute();
}
