import { uniqueName } from "@taskflow/testing";
import { createEmbeddedTaskQueue } from "../src/index.ts";
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
