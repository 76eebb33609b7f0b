import { type DatabaseHandle, sql } from "@taskflow/db";
import { uniqueName } from "@taskflow/testing";
import { describe, expect, it } from "vitest";
import { createEmbeddedTaskQueue, type TaskQueue } from "../src/index.ts";
import { closingWith, embeddedDatabases } from "./fixtures.ts";
import { describeTaskQueueContract } from "./task-queue.contract.ts";

const databases = embeddedDatabases();
// A short lease stands in for "the consumer's process died": its messages come back quickly.
const leaseMs = 600;

describeTaskQueueContract("the embedded queue (PGlite)", async () => {
  const database = await databases.pglite();
  return {
    newQueueName: () => uniqueName("tasks"),
    open: async (queue) => createEmbeddedTaskQueue({ database, queue, leaseMs, pollMs: 100 }),
  };
});

describeTaskQueueContract("the embedded queue (PostgreSQL)", async () => {
  const postgres = await databases.postgres();
  if (!postgres) return undefined;
  return {
    newQueueName: () => uniqueName("tasks"),
    open: async (queue) => {
      const database = await postgres.connect();
      return closingWith(
        createEmbeddedTaskQueue({ database, queue, leaseMs, pollMs: 100 }),
        database,
      );
    },
  };
});

/** Publishes `count` messages on a queue of its own and acknowledges them all, then closes it. */
async function publishAndAck(open: () => TaskQueue, count: number) {
  const queue = open();
  await queue.publish(
    Array.from({ length: count }, (_, i) => ({
      id: uniqueName("message"),
      body: { i, padding: "x".repeat(300) },
    })),
  );
  let acked = 0;
  let allAcked = () => {};
  const done = new Promise<void>((resolve) => {
    allAcked = resolve;
  });
  const subscription = await queue.consume(
    (delivery) => {
      delivery.ack();
      if (++acked === count) allAcked();
    },
    { prefetch: 50 },
  );
  await done;
  await subscription.stop();
  // Waits for the VACUUM the acknowledgements started.
  await queue.close();
}

async function queueTableBytes(database: DatabaseHandle): Promise<number> {
  const { rows } = await sql<{ bytes: string }>`
    SELECT pg_relation_size('queue_messages')::text AS bytes`.execute(database.db);
  return Number(rows[0]?.bytes);
}

for (const engine of ["PGlite", "PostgreSQL"] as const) {
  describe(`the embedded queue's table (${engine})`, () => {
    it("is vacuumed every vacuumEvery settled messages, so later messages reuse its pages", async (context) => {
      const database =
        engine === "PGlite"
          ? await databases.pglite()
          : await (await databases.postgres())?.connect();
      if (!database) return context.skip();
      const name = uniqueName("churn");
      const open = () =>
        createEmbeddedTaskQueue({ database, queue: name, pollMs: 100, vacuumEvery: 300 });
      await publishAndAck(open, 300);
      const afterFirst = await queueTableBytes(database);
      expect(afterFirst).toBeGreaterThan(4 * 8192);
      // Without the VACUUM, these would be written on new pages: the file would double.
      await publishAndAck(open, 300);
      expect(await queueTableBytes(database)).toBeLessThanOrEqual(afterFirst * 1.25);
    });
  });
}
