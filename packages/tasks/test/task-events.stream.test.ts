import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import {
  createEmbeddedEventStream,
  type EventBatch,
  type EventStream,
  partitionOf,
  type StoredRecord,
} from "@taskflow/messaging";
import { createTestDatabase, engineAvailable, uniqueName, waitFor } from "@taskflow/testing";
import { uuidv7 } from "uuidv7";
import { afterAll, describe, expect, it } from "vitest";
import { createTaskRepository, TASKS_TOPIC, type TaskRepository } from "../src/index.ts";

// The worker's finish appends task events straight to the embedded stream when it lives in
// the application database (TaskEventRoute "embedded-stream"): these check that what it
// writes is what the relay would have appended, read by the stream's own consumer.

const PARTITIONS = 3;
const retry = { baseMs: 1_000, maxMs: 1_000 };
const handles: DatabaseHandle[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await Promise.all(cleanups.map((c) => c()));
});

async function seedOwner(database: DatabaseHandle): Promise<string> {
  const id = uuidv7();
  await database.db
    .insertInto("users")
    .values({ id, email: `${id}@example.com`, name: "E", password_hash: "x" })
    .execute();
  return id;
}

/** Tasks created and claimed (PROCESSING, attempt 1), ready for `finish`. */
async function processing(tasks: TaskRepository, ownerId: string, n: number, maxAttempts = 3) {
  const created = await tasks.createMany(
    Array.from({ length: n }, () => ({
      ownerId,
      type: "sleep",
      title: null,
      payload: { ms: 0 },
      maxAttempts,
    })),
  );
  const ids = created.map((c) => c.task.id);
  await tasks.claim(ids.map((taskId) => ({ taskId, redelivered: false })));
  return ids;
}

/** The records of the `tasks` topic with these keys, read by a consumer group of its own. */
async function readKeys(stream: EventStream, keys: readonly string[]): Promise<StoredRecord[]> {
  const wanted = new Set(keys);
  const seen: StoredRecord[] = [];
  const reader = await stream.consume(TASKS_TOPIC, uniqueName("reader"), async (batch) => {
    seen.push(...batch.filter((r) => wanted.has(r.key)));
  });
  try {
    await waitFor(() => new Set(seen.map((r) => r.key)).size >= wanted.size, {
      what: `the events of ${wanted.size} tasks`,
    });
  } finally {
    await reader.stop();
  }
  return seen;
}

interface Setup {
  database: DatabaseHandle;
  /** Another session on the same database (PGlite has one, shared). */
  session(): Promise<DatabaseHandle>;
}

function describeDirectEvents(engine: string, setup: () => Promise<Setup | undefined>) {
  describe(`task events appended by finish itself, on ${engine}`, async () => {
    const opened = await setup();
    if (!opened) return;
    const { database } = opened;
    const stream = createEmbeddedEventStream({ database, pollMs: 50 });
    await stream.ensureTopic(TASKS_TOPIC, { partitions: PARTITIONS });
    const direct = createTaskRepository(database.db, {
      taskEvents: { to: "embedded-stream", partitions: PARTITIONS },
    });
    const viaOutbox = createTaskRepository(database.db);
    const ownerId = await seedOwner(database);
    const outboxEventRows = () =>
      database.db
        .selectFrom("outbox")
        .select("payload")
        .where("destination", "=", `event-stream:${TASKS_TOPIC}`)
        .execute();

    it("stores the events of the tasks that ended, in the partition of their key, and no outbox row", async () => {
      const [done, failed, retrying] = await processing(direct, ownerId, 3, 1);
      // maxAttempts 1 would fail `retrying` too: give it another attempt first.
      await database.db
        .updateTable("tasks")
        .set({ max_attempts: 3 })
        .where("id", "=", retrying as string)
        .execute();
      const before = (await outboxEventRows()).length;
      const ended = await direct.finish(
        [
          { taskId: done as string, attempt: 1, ok: true, result: 1 },
          { taskId: failed as string, attempt: 1, ok: false, error: "boom" },
          { taskId: retrying as string, attempt: 1, ok: false, error: "again" },
        ],
        retry,
      );
      expect([...ended.values()].sort()).toEqual(["DONE", "FAILED", "RETRYING"]);
      expect((await outboxEventRows()).length).toBe(before);

      const records = await readKeys(stream, [done as string, failed as string]);
      expect(records.map((r) => r.key).sort()).toEqual([done, failed].sort());
      const stored = await database.db
        .selectFrom("stream_records")
        .select("key")
        .where("key", "=", retrying as string)
        .execute();
      expect(stored).toEqual([]);
      for (const r of records) expect(r.partition).toBe(partitionOf(r.key, PARTITIONS));
      const byKey = new Map(records.map((r) => [r.key, r]));
      expect(byKey.get(done as string)?.value).toMatchObject({
        type: "task.done",
        schema_version: 1,
        data: { task_id: done, owner_id: ownerId, type: "sleep", status: "DONE", attempts: 1 },
      });
      expect(byKey.get(failed as string)?.value).toMatchObject({
        type: "task.failed",
        data: { status: "FAILED" },
      });
      for (const r of records) expect(r.id).toBe((r.value as { id: string }).id);
    });

    it("writes the same event the relay would have appended from the outbox", async () => {
      const [a] = await processing(viaOutbox, ownerId, 1);
      await viaOutbox.finish([{ taskId: a as string, attempt: 1, ok: true, result: 1 }], retry);
      const fromOutbox = (await outboxEventRows())
        .flatMap((r) => (r.payload as EventBatch).events)
        .find((e) => e.key === a);
      const [b] = await processing(direct, ownerId, 1);
      await direct.finish([{ taskId: b as string, attempt: 1, ok: true, result: 1 }], retry);
      const [record] = await readKeys(stream, [b as string]);
      const shape = (value: unknown): unknown =>
        value && typeof value === "object"
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
          : typeof value;
      expect(shape(record?.value)).toEqual(shape(fromOutbox?.event));
      expect(record?.headers).toEqual(fromOutbox?.headers);
    });

    it("fails the whole finish, leaving the tasks PROCESSING, when a partition row is missing", async () => {
      const missing = createTaskRepository(database.db, {
        // More partitions than the topic has: some keys land on a partition row that is missing.
        taskEvents: { to: "embedded-stream", partitions: 64 },
      });
      const ids = await processing(missing, ownerId, 20);
      const statsBefore = await missing.stats(ownerId);
      await expect(
        missing.finish(
          ids.map((taskId) => ({ taskId, attempt: 1, ok: true, result: 1 })),
          retry,
        ),
      ).rejects.toThrow(/offset/);
      const statuses = await missing.statuses(ids);
      expect([...statuses.values()].every((s) => s === "PROCESSING")).toBe(true);
      expect(await missing.stats(ownerId)).toEqual(statsBefore);
    });

    it("keeps each partition's offsets dense when finishes run at once on separate sessions", async () => {
      const sessions = await Promise.all([opened.session(), opened.session()]);
      const others = sessions.map((s) =>
        createTaskRepository(s.db, {
          taskEvents: { to: "embedded-stream", partitions: PARTITIONS },
        }),
      );
      const batches = await Promise.all(
        Array.from({ length: 8 }, () => processing(direct, ownerId, 10)),
      );
      await Promise.all(
        batches.map((ids, i) =>
          (others[i % 2] as TaskRepository).finish(
            ids.map((taskId) => ({ taskId, attempt: 1, ok: true, result: 1 })),
            retry,
          ),
        ),
      );
      const records = await readKeys(stream, batches.flat());
      expect(records).toHaveLength(80);
      // Offsets of the whole topic: earlier tests appended to it too.
      const all = await database.db
        .selectFrom("stream_records")
        .select(["partition", "offset"])
        .where("topic", "=", TASKS_TOPIC)
        .execute();
      for (let p = 0; p < PARTITIONS; p++) {
        const offsets = all
          .filter((r) => r.partition === p)
          .map((r) => Number(r.offset))
          .sort((x, y) => x - y);
        expect(offsets).toEqual(offsets.map((_, i) => (offsets[0] ?? 0) + i));
      }
    });
  });
}

describeDirectEvents("PGlite", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  handles.push(database);
  await migrateUp(database.db);
  return { database, session: async () => database };
});

describeDirectEvents("PostgreSQL", async () => {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase();
  cleanups.push(testDb.drop);
  const connect = async () => {
    const handle = await createDatabase({ url: testDb.url, dataDir: "unused" });
    handles.push(handle);
    return handle;
  };
  const database = await connect();
  await migrateUp(database.db);
  return { database, session: connect };
});
