import { type Kysely, sql } from "kysely";

/**
 * The embedded event stream (no TASKFLOW_STREAM_URL): an append-only log per topic partition,
 * and each consumer group's committed offsets.
 *
 * Offsets are a sequence per partition, handed out from `stream_partitions.next_offset` by
 * the appending transaction, which holds that row's lock until it commits: a partition's
 * offsets become visible in order, so a reader never skips one that commits late (with a
 * shared bigserial it would: 11 can commit before 10).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("stream_topics")
    .addColumn("topic", "text", (c) => c.primaryKey())
    .addColumn("partitions", "integer", (c) =>
      c.notNull().check(sql`partitions BETWEEN 1 AND 1024`),
    )
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable("stream_partitions")
    .addColumn("topic", "text", (c) =>
      c.notNull().references("stream_topics.topic").onDelete("cascade"),
    )
    .addColumn("partition", "integer", (c) => c.notNull())
    // The offset the next appended record of this partition gets.
    .addColumn("next_offset", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("stream_partitions_pkey", ["topic", "partition"])
    .execute();

  await db.schema
    .createTable("stream_records")
    .addColumn("topic", "text", (c) => c.notNull())
    .addColumn("partition", "integer", (c) => c.notNull())
    .addColumn("offset", "bigint", (c) => c.notNull())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("value", "jsonb", (c) => c.notNull())
    .addColumn("headers", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("appended_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // Also the index a consumer reads by: (topic, partition, offset > committed).
    .addPrimaryKeyConstraint("stream_records_pkey", ["topic", "partition", "offset"])
    .addForeignKeyConstraint(
      "stream_records_partition_fkey",
      ["topic", "partition"],
      "stream_partitions",
      ["topic", "partition"],
      (fk) => fk.onDelete("cascade"),
    )
    .execute();

  await db.schema
    .createTable("stream_group_offsets")
    .addColumn("topic", "text", (c) => c.notNull())
    .addColumn("consumer_group", "text", (c) => c.notNull())
    .addColumn("partition", "integer", (c) => c.notNull())
    // Kafka's meaning of a committed offset: the next record the group reads.
    .addColumn("next_offset", "bigint", (c) => c.notNull())
    .addColumn("committed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("stream_group_offsets_pkey", ["topic", "consumer_group", "partition"])
    .addForeignKeyConstraint(
      "stream_group_offsets_partition_fkey",
      ["topic", "partition"],
      "stream_partitions",
      ["topic", "partition"],
      (fk) => fk.onDelete("cascade"),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("stream_group_offsets").ifExists().execute();
  await db.schema.dropTable("stream_records").ifExists().execute();
  await db.schema.dropTable("stream_partitions").ifExists().execute();
  await db.schema.dropTable("stream_topics").ifExists().execute();
}
