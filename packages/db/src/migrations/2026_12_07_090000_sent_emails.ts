import { type Kysely, sql } from "kysely";

/**
 * The mailer's ledger of emails handed to the mail server, by Message-ID (stable per email).
 * A job that runs again after its email went out (Redis lost the job's completion, the
 * mailer died before completing it) finds its row and sends nothing.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("sent_emails")
    .addColumn("message_id", "text", (c) => c.primaryKey())
    .addColumn("sent_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Rows older than the retention are deleted: "older than" a range, not a scan.
  await sql`CREATE INDEX sent_emails_sent_at_idx ON sent_emails (sent_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("sent_emails").ifExists().execute();
}
