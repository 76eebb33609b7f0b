import {
  appendToOutbox,
  createDatabase,
  type DatabaseHandle,
  type KyselyPlugin,
  migrateUp,
  type OutboxRow,
  sql,
} from "@taskflow/db";
import { createLogger, createMetrics } from "@taskflow/observability";
import { createTestDatabase, engineAvailable, waitFor } from "@taskflow/testing";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createRelay, type Relay } from "../src/index.ts";

/** Counts the statements a Kysely instance sends. */
function statementCounter(): KyselyPlugin & { count: number } {
  return {
    count: 0,
    transformQuery(args) {
      this.count++;
      return args.node;
    },
    async transformResult(args) {
      return args.result;
    },
  };
}

const engines: Record<string, () => Promise<{ database: DatabaseHandle; drop(): Promise<void> }>> =
  {
    PGlite: async () => ({
      database: await createDatabase({ dataDir: "memory://" }),
      drop: async () => {},
    }),
    PostgreSQL: async () => {
      const testDb = await createTestDatabase("taskflow_relay");
      return {
        database: await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 4 }),
        drop: () => testDb.drop(),
      };
    },
  };

const postgres = await engineAvailable("postgres");

for (const [name, open] of Object.entries(engines)) {
  describe.skipIf(name === "PostgreSQL" && !postgres)(`the outbox relay on ${name}`, async () => {
    const { database, drop } = await open();
    await migrateUp(database.db);
    const published: OutboxRow[][] = [];
    let failNext = 0;
    let downAttempts = 0;
    const counter = statementCounter();
    let relay: Relay | undefined;

    const startRelay = async (vacuumEvery?: number) => {
      relay = createRelay({
        database: { ...database, db: database.db.withPlugin(counter) },
        publishers: {
          test: async (rows) => {
            if (failNext > 0) {
              failNext--;
              throw new Error("engine down");
            }
            published.push([...rows]);
          },
          down: async () => {
            downAttempts++;
            throw new Error("receiver answers 500");
          },
        },
        logger: createLogger({ level: "silent", service: "relay-test" }),
        metrics: createMetrics("relay-test"),
        pollMs: 200,
        ...(vacuumEvery && { vacuumEvery }),
      });
      await relay.start();
    };
    const append = (payloads: unknown[], availableAt?: Date) =>
      appendToOutbox(
        database.db,
        payloads.map((payload) => ({ destination: "test", payload, availableAt })),
      );
    const outboxSize = async () =>
      (
        await database.db
          .selectFrom("outbox")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n;
    const publishedPayloads = () => published.flat().map((row) => row.payload);

    afterEach(async () => {
      await relay?.stop();
      relay = undefined;
      published.length = 0;
      failNext = 0;
      downAttempts = 0;
      await database.db.deleteFrom("outbox").execute();
    });
    afterAll(async () => {
      await database.close();
      await drop();
    });

    it("publishes committed rows in order, woken by their commit, and deletes them once published", async () => {
      await startRelay();
      await append([{ n: 1 }, { n: 2 }, { n: 3 }]);
      await waitFor(() => publishedPayloads().length === 3, { what: "three publications" });
      expect(publishedPayloads()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      await waitFor(async () => (await outboxSize()) === 0, { what: "an empty outbox" });
    });

    it("keeps rows whose publication failed and publishes them on a later pass", async () => {
      failNext = 1;
      await startRelay();
      await append([{ n: "again" }]);
      await waitFor(() => publishedPayloads().length === 1, { what: "the retried publication" });
      expect(publishedPayloads()).toEqual([{ n: "again" }]);
      await waitFor(async () => (await outboxSize()) === 0, { what: "an empty outbox" });
      // What its heartbeat reports: one message refused, then published.
      await waitFor(() => relay?.stats.processed === 1, { what: "the published count" });
      expect(relay?.stats).toEqual({ inFlight: 0, processed: 1, failed: 1 });
    });

    it("publishes the other destinations while one keeps failing, and backs off from that one", async () => {
      await startRelay();
      await appendToOutbox(database.db, [{ destination: "down", payload: { n: "stuck" } }]);
      await append([{ n: "a" }]);
      await waitFor(() => publishedPayloads().length === 1, { what: "the healthy destination" });
      await append([{ n: "b" }]);
      await waitFor(() => publishedPayloads().length === 2, { what: "the next healthy row" });
      expect(publishedPayloads()).toEqual([{ n: "a" }, { n: "b" }]);
      // The failing row waits (1 s, then 2 s …) instead of being tried on every pass.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(downAttempts).toBeGreaterThanOrEqual(1);
      expect(downAttempts).toBeLessThanOrEqual(2);
      const left = await database.db
        .selectFrom("outbox")
        .select(["destination", "available_at"])
        .execute();
      expect(left.map((r) => r.destination)).toEqual(["down"]);
      expect(new Date(left[0]?.available_at as Date).getTime()).toBeGreaterThan(Date.now() - 100);
    });

    it("holds a delayed row until it is due", async () => {
      await startRelay();
      await append([{ n: "later" }], new Date(Date.now() + 600));
      await append([{ n: "now" }]);
      await waitFor(() => publishedPayloads().length === 1, { what: "the due row" });
      expect(publishedPayloads()).toEqual([{ n: "now" }]);
      await waitFor(() => publishedPayloads().length === 2, { what: "the delayed row" });
      expect(await outboxSize()).toBe(0);
    });

    /** VACUUMs of the outbox so far, from PostgreSQL's statistics (PGlite keeps none). */
    const vacuums = async () => {
      const { rows } = await sql<{ n: number }>`
        SELECT vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = 'outbox'`.execute(
        database.db,
      );
      return rows[0]?.n ?? 0;
    };
    /** Appends one row and waits until it is published (and about to be deleted). */
    const publishOne = async (i: number) => {
      await append([{ i }]);
      await waitFor(() => publishedPayloads().length === i + 1, { what: `row ${i}` });
    };

    it.skipIf(name === "PGlite")(
      "vacuums the outbox once it has deleted vacuumEvery rows, and again after as many more",
      async () => {
        const before = await vacuums();
        await startRelay(5);
        for (let i = 0; i < 4; i++) await publishOne(i);
        await waitFor(async () => (await outboxSize()) === 0, { what: "an empty outbox" });
        expect(await vacuums()).toBe(before);
        await publishOne(4);
        await waitFor(async () => (await vacuums()) === before + 1, { what: "a vacuum" });
        for (let i = 5; i < 10; i++) await publishOne(i);
        await waitFor(async () => (await vacuums()) === before + 2, { what: "a second vacuum" });
      },
    );

    it.skipIf(name === "PGlite")("keeps publishing while its vacuum waits", async () => {
      // Another session holds a lock VACUUM needs (as another VACUUM or an ALTER TABLE would).
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let locked = () => {};
      const lockTaken = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const holder = database.db.transaction().execute(async (trx) => {
        await sql`LOCK TABLE outbox IN SHARE UPDATE EXCLUSIVE MODE`.execute(trx);
        locked();
        await released;
      });
      try {
        await lockTaken;
        const before = await vacuums();
        await startRelay(2);
        for (let i = 0; i < 3; i++) await publishOne(i);
        // Its vacuum has started and waits for the lock; publishing goes on beside it.
        for (let i = 3; i < 8; i++) await publishOne(i);
        expect(await vacuums()).toBe(before);
        release();
        await holder;
        await waitFor(async () => (await vacuums()) > before, {
          what: "the vacuum, once unblocked",
        });
      } finally {
        release();
        await holder;
      }
    });

    it("keeps the emptied outbox's pages when it vacuums: truncating them would lock out every insert", async () => {
      const outboxBytes = async () => {
        const { rows } = await sql<{ bytes: string }>`
          SELECT pg_relation_size('outbox')::text AS bytes`.execute(database.db);
        return Number(rows[0]?.bytes);
      };
      const rows = 300;
      await append(Array.from({ length: rows }, (_, i) => ({ i, padding: "x".repeat(200) })));
      const filled = await outboxBytes();
      expect(filled).toBeGreaterThan(4 * 8192);
      await startRelay(rows);
      await waitFor(() => publishedPayloads().length === rows, { what: "every row published" });
      await waitFor(async () => (await outboxSize()) === 0, { what: "an empty outbox" });
      // stop() waits for the vacuum that the deletions started.
      await relay?.stop();
      relay = undefined;
      expect(await outboxBytes()).toBe(filled);
    });

    it("sleeps while the outbox is empty instead of querying in a loop", async () => {
      await startRelay();
      await waitFor(async () => (await outboxSize()) === 0);
      const before = counter.count;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // One fetch and one look at the next due row per 200 ms poll: about ten. A loop: thousands.
      expect(counter.count - before).toBeLessThan(30);
    });
  });
}
