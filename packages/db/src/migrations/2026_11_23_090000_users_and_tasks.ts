import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE UNIQUE INDEX users_email_key ON users (lower(email))`.execute(db);

  await db.schema
    .createTable("tasks")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("owner_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("title", "text")
    .addColumn("payload", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("status", "text", (c) =>
      c
        .notNull()
        .check(sql`status IN ('PENDING','PROCESSING','RETRYING','DONE','FAILED','CANCELLED')`),
    )
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("max_attempts", "integer", (c) =>
      c.notNull().check(sql`max_attempts BETWEEN 1 AND 100`),
    )
    .addColumn("result", "jsonb")
    .addColumn("last_error", "text")
    .addColumn("idempotency_key", "text")
    .addColumn("request_hash", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("started_at", "timestamptz")
    .addColumn("finished_at", "timestamptz")
    .execute();
  // Ids are UUIDv7 (time-ordered), so (owner_id, id) serves newest-first cursor pages.
  await sql`CREATE INDEX tasks_owner_id_idx ON tasks (owner_id, id DESC)`.execute(db);
  await sql`CREATE INDEX tasks_owner_status_id_idx ON tasks (owner_id, status, id DESC)`.execute(
    db,
  );
  await sql`CREATE UNIQUE INDEX tasks_owner_idempotency_key ON tasks (owner_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL`.execute(db);

  await db.schema
    .createTable("task_counts")
    .addColumn("owner_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("count", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("task_counts_pkey", ["owner_id", "status"])
    .execute();

  await db.schema
    .createTable("outbox")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("destination", "text", (c) => c.notNull())
    .addColumn("message_key", "text")
    .addColumn("payload", "jsonb", (c) => c.notNull())
    .addColumn("headers", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("available_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX outbox_available_at_idx ON outbox (available_at, id)`.execute(db);

  await db.schema
    .createTable("queue_messages")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("message_id", "text", (c) => c.notNull())
    .addColumn("body", "jsonb", (c) => c.notNull())
    .addColumn("headers", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("deliveries", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("visible_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX queue_messages_visible_idx ON queue_messages (queue, visible_at, id)`.execute(
    db,
  );

  await db.schema
    .createTable("queue_dead_letters")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("message_id", "text", (c) => c.notNull())
    .addColumn("body", "jsonb", (c) => c.notNull())
    .addColumn("headers", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("deliveries", "integer", (c) => c.notNull())
    .addColumn("dead_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX queue_dead_letters_queue_idx ON queue_dead_letters (queue, id)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "queue_dead_letters",
    "queue_messages",
    "outbox",
    "task_counts",
    "tasks",
    "users",
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
