import {
  createDatabase,
  type DatabaseHandle,
  migrateDown,
  migrateUp,
  migrationStatus,
} from "@taskflow/db";
import { createTestDatabase, engineAvailable } from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMailer,
  createSinkMailer,
  listSinkMail,
  type Mailer,
  type OutgoingMail,
} from "../src/index.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const message = (n: number, overrides: Partial<OutgoingMail> = {}): OutgoingMail => ({
  messageId: `<welcome.${n}@taskflow.test>`,
  from: '"TaskFlow" <hello@taskflow.test>',
  to: `user${n}@example.com`,
  subject: `Welcome, user ${n}`,
  text: `Hi user ${n},\n`,
  html: `<p>Hi user ${n} &amp; co,</p>`,
  ...overrides,
});

/** The same behaviour on every engine the application database runs on. */
function describeSink(engine: string, open: () => Promise<DatabaseHandle | undefined>) {
  describe(`the mail sink (${engine})`, () => {
    let database: DatabaseHandle | undefined;
    let mailer: Mailer;

    beforeAll(async () => {
      database = await open();
      if (database) mailer = createSinkMailer({ database });
    });

    it("stores a message exactly as given and answers like a server that accepted it", async (context) => {
      if (!database) return context.skip();
      const sent = message(1);
      await expect(mailer.send(sent)).resolves.toEqual({
        messageId: sent.messageId,
        response: "stored",
      });
      const [stored] = await listSinkMail(database.db, { limit: 1 });
      expect(stored).toEqual({
        id: expect.any(Number),
        message_id: sent.messageId,
        from: sent.from,
        to: sent.to,
        subject: sent.subject,
        text: sent.text,
        html: sent.html,
        created_at: expect.any(Date),
      });
    });

    it("keeps both copies when the same Message-ID is sent twice", async (context) => {
      if (!database) return context.skip();
      const resent = message(2);
      await mailer.send(resent);
      await mailer.send(resent);
      const rows = await listSinkMail(database.db, { limit: 10 });
      const copies = rows.filter((r) => r.message_id === resent.messageId);
      expect(copies).toHaveLength(2);
      expect(copies[0]?.id).not.toBe(copies[1]?.id);
    });

    it("lists newest first, a page at a time with `before`", async (context) => {
      if (!database) return context.skip();
      for (const n of [10, 11, 12, 13, 14]) await mailer.send(message(n));
      const first = await listSinkMail(database.db, { limit: 3 });
      expect(first.map((m) => m.to)).toEqual([
        "user14@example.com",
        "user13@example.com",
        "user12@example.com",
      ]);
      const second = await listSinkMail(database.db, { limit: 2, before: first.at(-1)?.id });
      expect(second.map((m) => m.to)).toEqual(["user11@example.com", "user10@example.com"]);
    });

    it("answers ping while the database does, and close leaves the database open", async (context) => {
      if (!database) return context.skip();
      await expect(mailer.ping()).resolves.toBeUndefined();
      await mailer.close();
      await expect(database.ping()).resolves.toBeUndefined();
    });

    it("is what createMailer gives without an SMTP URL", async (context) => {
      if (!database) return context.skip();
      expect(createMailer({ smtpUrl: undefined, database }).engine).toBe("sink");
      const smtp = createMailer({ smtpUrl: "smtp://127.0.0.1:1", database });
      expect(smtp.engine).toBe("smtp");
      await smtp.close();
    });
  });
}

describeSink("PGlite", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  cleanups.push(() => database.close());
  await migrateUp(database.db);
  return database;
});

describeSink("PostgreSQL", async () => {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase("taskflow_mail");
  cleanups.push(testDb.drop);
  const database = await createDatabase({ url: testDb.url, dataDir: "unused" });
  cleanups.push(() => database.close());
  await migrateUp(database.db);
  return database;
});

describe("the mail sink migration", () => {
  it("goes down (the table is gone) and up again", async () => {
    const database = await createDatabase({ dataDir: "memory://" });
    try {
      await migrateUp(database.db);
      // Down to just before it, however many migrations were added after it.
      const names = (await migrationStatus(database.db)).map((m) => m.name);
      const steps = names.length - names.indexOf("2026_11_23_120100_mail_sink");
      const reverted = await migrateDown(database.db, steps);
      expect(reverted.map((r) => r.migrationName)).toContain("2026_11_23_120100_mail_sink");
      await expect(listSinkMail(database.db, { limit: 1 })).rejects.toThrow(/mail_sink/);

      await migrateUp(database.db);
      await createSinkMailer({ database }).send(message(1));
      expect(await listSinkMail(database.db, { limit: 5 })).toHaveLength(1);
    } finally {
      await database.close();
    }
  });
});
