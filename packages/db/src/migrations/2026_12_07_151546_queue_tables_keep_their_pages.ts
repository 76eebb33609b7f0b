import { type Kysely, sql } from "kysely";

/**
 * The outbox and the embedded task queue's messages are queue tables: every row is deleted
 * soon after it is written, so a VACUUM often finds the table's last pages empty and tries to
 * give them back to the file system. That truncation needs an ACCESS EXCLUSIVE lock, which
 * every insert holds off (VACUUM retries for up to 5 s, in 50 ms steps), and once taken it
 * stops every insert — a POST's among them — until it is done; the pages are then needed again
 * within milliseconds. Measured in the task bench (20,000 tasks, 12 outbox VACUUMs by the
 * relay): 269–564 ms in all, up to 206 ms each, against 42–64 ms (at most 8 ms) without.
 * `vacuum_truncate = false` keeps the pages, for autovacuum's VACUUMs too.
 */
const QUEUE_TABLES = ["outbox", "queue_messages"];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of QUEUE_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} SET (vacuum_truncate = false)`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of QUEUE_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)} RESET (vacuum_truncate)`.execute(db);
  }
}
