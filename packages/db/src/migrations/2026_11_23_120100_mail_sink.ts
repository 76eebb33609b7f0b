import { type Kysely, sql } from "kysely";

/**
 * The embedded mail sink (no TASKFLOW_SMTP_URL): every email "sent" becomes a row, the
 * development stand-in for an inbox. Append-only: a resend (same Message-ID) is a second row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("mail_sink")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("message_id", "text", (c) => c.notNull())
    .addColumn("from_address", "text", (c) => c.notNull())
    .addColumn("to_address", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("text_body", "text", (c) => c.notNull())
    .addColumn("html_body", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Newest first is the primary key read backwards; this one finds the copies of one email.
  await sql`CREATE INDEX mail_sink_message_id_idx ON mail_sink (message_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("mail_sink").ifExists().execute();
}
