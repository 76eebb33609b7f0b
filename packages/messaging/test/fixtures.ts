import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { createTestDatabase, engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import { Redis } from "ioredis";
import { afterAll } from "vitest";

/**
 * The databases the embedded adapters' contract suites run on: PGlite in memory, and a
 * PostgreSQL database of the test file's own. Everything opened is closed (and the PostgreSQL
 * database dropped) after the file's tests.
 */
export function embeddedDatabases() {
  const handles: DatabaseHandle[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await Promise.all(cleanups.map((c) => c()));
  });

  return {
    /** One migrated in-memory PGlite: the adapters opened on it share it, as roles in `taskflow start` do. */
    async pglite(): Promise<DatabaseHandle> {
      const database = await createDatabase({ dataDir: "memory://" });
      handles.push(database);
      await migrateUp(database.db);
      return database;
    },
    /**
     * A migrated PostgreSQL database, or undefined when PostgreSQL is not reachable. Each
     * `connect()` is a pool of its own, like a separate process would have.
     */
    async postgres(): Promise<
      { connect(options?: { poolSize?: number }): Promise<DatabaseHandle> } | undefined
    > {
      if (!(await engineAvailable("postgres"))) return undefined;
      const testDb = await createTestDatabase();
      cleanups.push(testDb.drop);
      const setup = await createDatabase({ url: testDb.url, dataDir: "unused" });
      handles.push(setup);
      await migrateUp(setup.db);
      return {
        async connect(options = {}) {
          const database = await createDatabase({ url: testDb.url, dataDir: "unused", ...options });
          handles.push(database);
          return database;
        },
      };
    },
  };
}

/** `adapter` whose close() also closes the pool it was opened on (the pool is the adapter's own). */
export function closingWith<T extends { close(): Promise<void> }>(
  adapter: T,
  database: DatabaseHandle,
): T {
  return {
    ...adapter,
    close: async () => {
      await adapter.close();
      await database.close();
    },
  };
}

/** A key prefix for this test file's Redis keys; every key under it is removed afterwards. */
export function redisTestPrefix(name: string): string {
  const prefix = uniqueName(name);
  afterAll(async () => {
    const redis = new Redis(testEngines.redisUrl, { lazyConnect: true });
    try {
      await redis.connect();
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== "0");
    } catch {
      // Redis was not there: nothing was written.
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}
