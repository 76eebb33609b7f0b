import { type Kysely, sql } from "kysely";

/**
 * The analytics consumer forgets processed event ids after a retention period (a redelivery
 * comes within seconds of the first delivery, never days later): this index makes "older
 * than" a range instead of a scan of every id.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX analytics_processed_events_age_idx
            ON analytics_processed_events (consumer, processed_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS analytics_processed_events_age_idx`.execute(db);
}
