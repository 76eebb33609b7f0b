import { createDatabase, type DatabaseHandle, migrateUp, sql } from "@taskflow/db";
import {
  createTestDatabase,
  engineAvailable,
  startTestSmtpServer,
  type TestSmtpServer,
} from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OutgoingMail, withSentLedger } from "../src/index.ts";
import { createSmtpMailer } from "../src/smtp.mailer.ts";

/**
 * The sent-email ledger against the real PostgreSQL and a real SMTP server: a job that runs
 * again after its email went out sends nothing.
 */
const postgres = await engineAvailable("postgres");
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const email = (id: string, to = "ann@example.com"): OutgoingMail => ({
  messageId: `<${id}@taskflow.test>`,
  from: '"TaskFlow" <hello@taskflow.test>',
  to,
  subject: "Welcome",
  text: "Hi Ann,\n",
  html: "<p>Hi Ann,</p>",
});

describe.skipIf(!postgres)("the sent-email ledger (PostgreSQL, SMTP)", () => {
  let database: DatabaseHandle;
  let smtp: TestSmtpServer;

  beforeAll(async () => {
    const testDb = await createTestDatabase("taskflow_sent_ledger");
    cleanups.push(testDb.drop);
    database = await createDatabase({ url: testDb.url, dataDir: "unused" });
    cleanups.push(() => database.close());
    await migrateUp(database.db);
    smtp = await startTestSmtpServer({ rejectRecipients: /^rejected@/ });
    cleanups.push(() => smtp.stop());
  });

  const mailer = () =>
    withSentLedger(createSmtpMailer({ url: smtp.url }), { database, recordForMs: 500 });
  const copiesOf = (id: string) =>
    smtp.received.filter((m) => m.messageId === `<${id}@taskflow.test>`).length;

  it("sends an email once: the same Message-ID again is answered from the ledger", async () => {
    const first = mailer();
    const sent = await first.send(email("welcome.1"));
    expect(sent.response).toMatch(/^250/);
    // A rerun of the job, even from another mailer process.
    const second = mailer();
    await expect(second.send(email("welcome.1"))).resolves.toEqual({
      messageId: "<welcome.1@taskflow.test>",
      response: "already sent (ledger)",
    });
    expect(copiesOf("welcome.1")).toBe(1);
    await Promise.all([first.close(), second.close()]);
  });

  it("records nothing for an email the server refused: the next try sends it", async () => {
    const m = mailer();
    await expect(m.send(email("welcome.2", "rejected@example.com"))).rejects.toThrow();
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM sent_emails WHERE message_id = '<welcome.2@taskflow.test>'`.execute(
      database.db,
    );
    expect(rows[0]?.n).toBe(0);
    await m.send(email("welcome.2"));
    expect(copiesOf("welcome.2")).toBe(1);
    await m.close();
  });

  it("sends nothing while the ledger cannot be read (the job is retried)", async () => {
    const testDb = await createTestDatabase("taskflow_sent_ledger_gone");
    const gone = await createDatabase({ url: testDb.url, dataDir: "unused" });
    await migrateUp(gone.db);
    await gone.close();
    await testDb.drop();
    const m = withSentLedger(createSmtpMailer({ url: smtp.url }), { database: gone });
    await expect(m.send(email("welcome.3"))).rejects.toThrow();
    expect(copiesOf("welcome.3")).toBe(0);
    await m.close();
  });

  it("forgets Message-IDs older than the retention", async () => {
    await sql`INSERT INTO sent_emails (message_id, sent_at)
              VALUES ('<old@taskflow.test>', now() - interval '40 days')`.execute(database.db);
    const m = mailer();
    await m.send(email("welcome.4"));
    const { rows } = await sql<{ message_id: string }>`
      SELECT message_id FROM sent_emails WHERE message_id LIKE '<old%'`.execute(database.db);
    expect(rows).toEqual([]);
    await m.close();
  });
});
