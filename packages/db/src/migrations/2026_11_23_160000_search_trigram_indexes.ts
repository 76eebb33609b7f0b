import { type Kysely, sql } from "kysely";

/**
 * Trigram indexes for the monitor's text search: `payload::text ILIKE '%q%'` on tasks and
 * `data::text ILIKE '%q%'` on job_history (monitor.repository.ts). A GIN index over the same
 * expression lets the planner fetch the few rows that contain the text's trigrams instead of
 * reading every row's JSON; it serves only a query on exactly this expression, so the two
 * must change together. Text shorter than three characters has no trigram: it still scans.
 *
 * pg_trgm is a trusted extension (any role with CREATE on the database may add it); PGlite
 * loads it only when given in its `extensions` option, which database.ts does.
 *
 * Building an index blocks writes to its table meanwhile. On a large table, build it first
 * with CREATE INDEX CONCURRENTLY under the same name and check that it is valid: this
 * migration then keeps it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS tasks_payload_trgm_idx
            ON tasks USING gin ((payload::text) gin_trgm_ops)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS job_history_data_trgm_idx
            ON job_history USING gin ((data::text) gin_trgm_ops)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS job_history_data_trgm_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS tasks_payload_trgm_idx`.execute(db);
  // The extension stays: it may have been there before this migration, or serve other
  // objects since; unused, it costs nothing.
}
