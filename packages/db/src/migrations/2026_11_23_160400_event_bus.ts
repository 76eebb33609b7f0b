import { type Kysely, sql } from "kysely";

/**
 * The embedded event bus's bindings: which subscriber queue wants which routing keys (AMQP
 * topic patterns). A publish copies the message into every matching queue's rows in
 * `queue_messages`, as a RabbitMQ topic exchange copies it into every bound queue.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("bus_bindings")
    .addColumn("exchange", "text", (c) => c.notNull())
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("pattern", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("bus_bindings_pkey", ["exchange", "queue", "pattern"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("bus_bindings").ifExists().execute();
}
