import { uniqueName } from "@taskflow/testing";
import { createEmbeddedJobQueue } from "../src/index.ts";
import { closingWith, embeddedDatabases } from "./fixtures.ts";
import { describeJobQueueContract } from "./job-queue.contract.ts";

const databases = embeddedDatabases();
// A short lease stands in for "the processor's process died": its jobs come back quickly.
const leaseMs = 1_000;

describeJobQueueContract("the embedded queue (PGlite)", async () => {
  const database = await databases.pglite();
  return {
    newQueueName: () => uniqueName("jobs"),
    open: async (queue) => createEmbeddedJobQueue({ database, queue, leaseMs, pollMs: 100 }),
  };
});

describeJobQueueContract("the embedded queue (PostgreSQL)", async () => {
  const postgres = await databases.postgres();
  if (!postgres) return undefined;
  return {
    newQueueName: () => uniqueName("jobs"),
    open: async (queue) => {
      const database = await postgres.connect();
      return closingWith(
        createEmbeddedJobQueue({ database, queue, leaseMs, pollMs: 100 }),
        database,
      );
    },
  };
});
