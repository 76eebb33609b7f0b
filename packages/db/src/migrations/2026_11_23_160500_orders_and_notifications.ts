import { type Kysely, sql } from "kysely";

/**
 * Orders (priced by the validator, stored with their outbox messages in one transaction)
 * and the notifications the notifier makes of their events — one per event id.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("orders")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("owner_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('CONFIRMED')`))
    // Priced lines as the validator returned them: [{sku, name, quantity, unit_price_cents, line_total_cents}].
    .addColumn("items", "jsonb", (c) => c.notNull())
    .addColumn("total_cents", "bigint", (c) => c.notNull().check(sql`total_cents >= 0`))
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("note", "text")
    .addColumn("idempotency_key", "text")
    .addColumn("request_hash", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX orders_owner_id_idx ON orders (owner_id, id DESC)`.execute(db);
  await sql`CREATE UNIQUE INDEX orders_owner_idempotency_key ON orders (owner_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL`.execute(db);

  await db.schema
    .createTable("notifications")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("owner_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    // The event it was made from: a redelivered event makes no second notification.
    .addColumn("event_id", "text", (c) => c.notNull().unique())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("data", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("read_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX notifications_owner_id_idx ON notifications (owner_id, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX notifications_unread_idx ON notifications (owner_id)
            WHERE read_at IS NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("notifications").ifExists().execute();
  await db.schema.dropTable("orders").ifExists().execute();
}
