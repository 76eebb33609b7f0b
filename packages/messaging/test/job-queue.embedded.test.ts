import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { createTestDatabase, engineAvailable, uniqueName } from "@taskflow/testing";
import { afterAll } from "vitest";
import { createEmbeddedJobQueue } from "../src/index.ts";
import { describeJobQueueContract } from "./job-queue.contract.ts";

const handles: DatabaseHandle[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await Promise.all(cleanups.map((c) => c()));
});

// A short lease stands in for "the processor's process died": its jobs come back quickly.
const leaseMs = 1_000;

describeJobQueueContract("the embedded queue (PGlite)", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  handles.push(database);
  await migrateUp(database.db);
  return {
    newQueueName: () => uniqueName("jobs"),
    open: async (queue) => createEmbeddedJobQueue({ database, queue, leaseMs, pollMs: 100 }),
  };
});

describeJobQueueContract("the embedded queue (PostgreSQL)", async () => {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase();
  cleanups.push(testDb.drop);
  const setup = await createDatabase({ url: testDb.url, dataDir: "unused" });
  await migrateUp(setup.db);
  handles.push(setup);
  return {
    newQueueName: () => uniqueName("jobs"),
    // Each open() is its own pool, like a separate process would have.
    open: async (queue) => {
      const database = await createDatabase({ url: testDb.url, dataDir: "unused" });
      handles.push(database);
      const inner = createEmbeddedJobQueue({ database, queue, leaseMs, pollMs: 100 });
      return {
        ...inner,
        close: async () => {
          await inner.close();
          await database.close();
        },
      };
    },
  };
});
