import type { Database, DatabaseHandle, Kysely } from "@taskflow/db";
import type { Mailer, OutgoingMail, SentMail } from "./mailer.ts";

/**
 * The embedded mail sink (no SMTP server configured): every message becomes a row of
 * `mail_sink` in the application database, nothing leaves the machine. GET /api/dev/mail
 * reads them back.
 *
 * Append-only: sending the same Message-ID again stores a second row, as a real inbox would
 * receive a second copy. A duplicate is a fact worth seeing in development (a job that ran
 * twice), not something for the sink to hide.
 */
export function createSinkMailer(options: { database: DatabaseHandle }): Mailer {
  const { database } = options;
  return {
    engine: "sink",

    async send(message: OutgoingMail): Promise<SentMail> {
      await database.db
        .insertInto("mail_sink")
        .values({
          message_id: message.messageId,
          from_address: message.from,
          to_address: message.to,
          subject: message.subject,
          text_body: message.text,
          html_body: message.html,
        })
        .execute();
      return { messageId: message.messageId, response: "stored" };
    },

    async ping() {
      await database.ping();
    },

    async close() {
      // The database belongs to the caller, who closes it.
    },
  };
}

/** One message the sink stored. */
export interface SinkMail {
  /** Increases with every message stored: the cursor for the next page. */
  id: number;
  message_id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  created_at: Date;
}

/**
 * The sink's messages, newest first, at most `limit`; with `before`, only those stored
 * before the message of that id (the last `id` of the previous page).
 */
export async function listSinkMail(
  db: Kysely<Database>,
  options: { limit: number; before?: number },
): Promise<SinkMail[]> {
  let query = db
    .selectFrom("mail_sink")
    .select([
      "id",
      "message_id",
      "from_address as from",
      "to_address as to",
      "subject",
      "text_body as text",
      "html_body as html",
      "created_at",
    ])
    .orderBy("id", "desc")
    .limit(options.limit);
  if (options.before !== undefined) query = query.where("id", "<", options.before);
  return query.execute();
}
