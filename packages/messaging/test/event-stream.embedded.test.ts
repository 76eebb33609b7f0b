import { uniqueName } from "@taskflow/testing";
import { createEmbeddedEventStream } from "../src/index.ts";
import { describeEventStreamContract } from "./event-stream.contract.ts";
import { closingWith, embeddedDatabases } from "./fixtures.ts";

const databases = embeddedDatabases();

describeEventStreamContract("the embedded stream (PGlite)", async () => {
  const database = await databases.pglite();
  return {
    newTopic: () => uniqueName("events"),
    // One database, one process: a second open() shares it, as roles in `taskflow start` do.
    open: async () => createEmbeddedEventStream({ database, pollMs: 100 }),
  };
});

describeEventStreamContract("the embedded stream (PostgreSQL)", async () => {
  const postgres = await databases.postgres();
  if (!postgres) return undefined;
  return {
    newTopic: () => uniqueName("events"),
    // Each open() is its own pool and session, like a separate process would have.
    open: async () => {
      const database = await postgres.connect({ poolSize: 3 });
      return closingWith(createEmbeddedEventStream({ database, pollMs: 100 }), database);
    },
  };
});
