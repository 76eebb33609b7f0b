import type { DatabaseHandle } from "@taskflow/db";
import type { Mailer, OutgoingMail, SentMail } from "./mailer.ts";

export interface SentLedgerOptions {
  database: DatabaseHandle;
  /** How long a Message-ID is remembered; far beyond any job's retries. Default 30 days. */
  retentionMs?: number;
  /** How long to keep trying to record a sent email while the database is away. */
  recordForMs?: number;
  /** An email went out but could not be recorded: a later rerun of its job would resend it. */
  onRecordFailed?: (error: unknown, message: OutgoingMail) => void;
  /** Rows past the retention could not be deleted (tried again an hour later). */
  onPruneFailed?: (error: unknown) => void;
}

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Exactly one email per Message-ID, across job reruns: `send` looks the Message-ID up in
 * `sent_emails` first and sends nothing if it is there; after the mail server accepts the
 * email, it records it. A job whose completion was lost (Redis down, the mailer killed after
 * the send) runs again and finds its row.
 *
 * What stays at-least-once: the mailer dying between the server's "250 OK" and the insert
 * (about a millisecond), or the database away for longer than `recordForMs` after a send.
 * SMTP offers no transaction to close that gap; the resend carries the same Message-ID.
 */
export function withSentLedger(mailer: Mailer, options: SentLedgerOptions): Mailer {
  const { database } = options;
  const retentionMs = options.retentionMs ?? 30 * DAY_MS;
  const recordForMs = options.recordForMs ?? 10_000;
  let prunedAt = 0;

  async function alreadySent(messageId: string): Promise<boolean> {
    const row = await database.db
      .selectFrom("sent_emails")
      .select("message_id")
      .where("message_id", "=", messageId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async function record(message: OutgoingMail): Promise<void> {
    const deadline = Date.now() + recordForMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        await database.db
          .insertInto("sent_emails")
          .values({ message_id: message.messageId })
          .onConflict((oc) => oc.column("message_id").doNothing())
          .execute();
        return;
      } catch (error) {
        if (Date.now() + delay > deadline) {
          // The email is out: failing the job now would only send it again.
          options.onRecordFailed?.(error, message);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async function pruneNowAndThen(): Promise<void> {
    if (Date.now() - prunedAt < PRUNE_EVERY_MS) return;
    prunedAt = Date.now();
    const cutoff = new Date(Date.now() - retentionMs);
    await database.db.deleteFrom("sent_emails").where("sent_at", "<", cutoff).execute();
  }

  return {
    engine: mailer.engine,

    async send(message: OutgoingMail): Promise<SentMail> {
      // Without the ledger there is no knowing whether this email went out: fail the attempt
      // (the job is retried) rather than risk a second copy.
      if (await alreadySent(message.messageId)) {
        return { messageId: message.messageId, response: "already sent (ledger)" };
      }
      const sent = await mailer.send(message);
      await record(message);
      // After the send, and never failing it: the email is out.
      await pruneNowAndThen().catch((error: unknown) => options.onPruneFailed?.(error));
      return sent;
    },

    ping: () => mailer.ping(),
    close: () => mailer.close(),
  };
}
