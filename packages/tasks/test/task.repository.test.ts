import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { type EventBatch, type EventEnvelope, isEventBatch } from "@taskflow/messaging";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTaskRepository, type TaskRepository } from "../src/index.ts";

// The repository's SQL is the same on both engines; PGlite keeps this suite fast and
// self-contained (the API and worker suites run it on PostgreSQL too).
let database: DatabaseHandle;
let tasks: TaskRepository;
let ownerId: string;
const retry = { baseMs: 1_000, maxMs: 1_000 };

beforeAll(async () => {
  database = await createDatabase({ dataDir: "memory://" });
  await migrateUp(database.db);
  tasks = createTaskRepository(database.db);
  ownerId = uuidv7();
  await database.db
    .insertInto("users")
    .values({ id: ownerId, email: "r@example.com", name: "R", password_hash: "x" })
    .execute();
});
afterAll(() => database.close());

const create = async (maxAttempts = 3) => {
  const [outcome] = await tasks.createMany([
    { ownerId, type: "sleep", title: null, payload: { ms: 0 }, maxAttempts },
  ]);
  return outcome?.task.id as string;
};

describe("claiming tasks", () => {
  it("takes a PENDING task once: a second, non-redelivered claim gets nothing", async () => {
    const id = await create();
    expect((await tasks.claim([{ taskId: id, redelivered: false }]))[0]).toMatchObject({
      id,
      status: "PROCESSING",
      attempts: 1,
    });
    expect(await tasks.claim([{ taskId: id, redelivered: false }])).toEqual([]);
  });

  it("lets a redelivery take over a PROCESSING task (its worker died), counting an attempt", async () => {
    const id = await create();
    await tasks.claim([{ taskId: id, redelivered: false }]);
    const [taken] = await tasks.claim([{ taskId: id, redelivered: true }]);
    expect(taken).toMatchObject({ status: "PROCESSING", attempts: 2 });
  });

  it("fails a task whose worker died during its last attempt", async () => {
    const id = await create(1);
    await tasks.claim([{ taskId: id, redelivered: false }]);
    const [taken] = await tasks.claim([{ taskId: id, redelivered: true }]);
    expect(taken).toMatchObject({ status: "FAILED", attempts: 1 });
    expect((await tasks.get(ownerId, id))?.last_error).toMatch(/worker stopped/);
  });

  it("hands out a task once when it is in a batch twice", async () => {
    const id = await create();
    const claimed = await tasks.claim([
      { taskId: id, redelivered: false },
      { taskId: id, redelivered: true },
    ]);
    expect(claimed).toHaveLength(1);
  });
});

describe("finishing tasks", () => {
  it("ignores a late finisher whose attempt was taken over", async () => {
    const id = await create();
    await tasks.claim([{ taskId: id, redelivered: false }]);
    await tasks.claim([{ taskId: id, redelivered: true }]); // attempt 2 now
    const late = await tasks.finish([{ taskId: id, attempt: 1, ok: true, result: "late" }], retry);
    expect(late.size).toBe(0);
    const current = await tasks.finish(
      [{ taskId: id, attempt: 2, ok: true, result: "on time" }],
      retry,
    );
    expect(current.get(id)).toBe("DONE");
    expect((await tasks.get(ownerId, id))?.result).toBe("on time");
  });

  it("schedules a retry through the outbox after the backoff", async () => {
    const id = await create();
    await tasks.claim([{ taskId: id, redelivered: false }]);
    const before = Date.now();
    expect(
      (await tasks.finish([{ taskId: id, attempt: 1, ok: false, error: "boom" }], retry)).get(id),
    ).toBe("RETRYING");
    const rows = await database.db
      .selectFrom("outbox")
      .selectAll()
      .where("message_key", "=", id)
      .orderBy("id")
      .execute();
    const retryRow = rows.at(-1);
    expect(retryRow?.available_at.getTime()).toBeGreaterThanOrEqual(before + 500 - 50);
  });

  it("puts a task.done or task.failed event for the tasks stream in the outbox as it ends, and nothing before", async () => {
    const [done, failed, retrying] = [await create(), await create(1), await create(3)];
    await tasks.claim([done, failed, retrying].map((taskId) => ({ taskId, redelivered: false })));
    const before = await database.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.max("id").as("id"))
      .executeTakeFirstOrThrow();
    await tasks.finish(
      [
        { taskId: done, attempt: 1, ok: true, result: { ok: 1 } },
        { taskId: failed, attempt: 1, ok: false, error: "boom" },
        { taskId: retrying, attempt: 1, ok: false, error: "again" },
      ],
      retry,
    );
    // One outbox row for the statement's events, one event per task that ended.
    const rows = await database.db
      .selectFrom("outbox")
      .select("payload")
      .where("destination", "=", "event-stream:tasks")
      .where("id", ">", Number(before.id ?? 0))
      .execute();
    expect(rows).toHaveLength(1);
    const batch = rows[0]?.payload;
    expect(isEventBatch(batch)).toBe(true);
    type TaskEvent = EventEnvelope<{ created_at: string; finished_at: string }>;
    const events = (batch as EventBatch).events;
    expect(events.map((e) => e.key).sort()).toEqual([done, failed].sort());
    const byTask = new Map(events.map((e) => [e.key, e.event as TaskEvent]));
    const doneEvent = byTask.get(done);
    expect(doneEvent).toMatchObject({
      type: "task.done",
      schema_version: 1,
      data: { task_id: done, owner_id: ownerId, type: "sleep", status: "DONE", attempts: 1 },
    });
    expect(doneEvent?.id).toMatch(/^[0-9a-f-]{36}$/);
    const at = (iso: string | undefined) => new Date(iso ?? Number.NaN).getTime();
    expect(at(doneEvent?.occurred_at)).toBe(at(doneEvent?.data.finished_at));
    expect(at(doneEvent?.data.created_at)).toBeLessThanOrEqual(at(doneEvent?.data.finished_at));
    expect(byTask.get(failed)).toMatchObject({ type: "task.failed", data: { status: "FAILED" } });
  });
});

describe("counters", () => {
  it("match the table after creates, claims, finishes and cancels", async () => {
    const counted = async () => {
      const rows = await database.db
        .selectFrom("tasks")
        .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
        .where("owner_id", "=", ownerId)
        .groupBy("status")
        .execute();
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    };
    const ids = await Promise.all([create(), create(), create()]);
    await tasks.cancel(ownerId, ids[0] as string);
    const stats = await tasks.stats(ownerId);
    const actual = await counted();
    for (const [status, n] of Object.entries(stats)) expect(n, status).toBe(actual[status] ?? 0);
  });
});
