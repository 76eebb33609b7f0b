import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { createTestDatabase, engineAvailable, uniqueName } from "@taskflow/testing";
import { afterAll } from "vitest";
import { createEmbeddedEventStream } from "../src/index.ts";
import { describeEventStreamContract } from "./event-stream.contract.ts";

const handles: DatabaseHandle[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await Promise.all(cleanups.map((c) => c()));
});

describeEventStreamContract("the embedded stream (PGlite)", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  handles.push(database);
  await migrateUp(database.db);
  return {
    newTopic: () => uniqueName("events"),
    // One database, one process: a second open() shares it, as roles in `taskflow start` do.
    open: async () => createEmbeddedEventStream({ database, pollMs: 100 }),
  };
});

describeEventStreamContract("the embedded stream (PostgreSQL)", async () => {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase();
  cleanups.push(testDb.drop);
  const setup = await createDatabase({ url: testDb.url, dataDir: "unused" });
  await migrateUp(setup.db);
  handles.push(setup);
  return {
    newTopic: () => uniqueName("events"),
    // Each open() is its own pool and session, like a separate process would have.
    open: async () => {
      const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 3 });
      handles.push(database);
      const inner = createEmbeddedEventStream({ database, pollMs: 100 });
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
