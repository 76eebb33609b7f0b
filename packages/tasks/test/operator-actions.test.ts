import {
  createDatabase,
  type Database,
  type DatabaseHandle,
  type Kysely,
  migrateUp,
} from "@taskflow/db";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTaskRepository, TASK_QUEUE_DESTINATION, type TaskRepository } from "../src/index.ts";

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
    .values({ id: ownerId, email: "ops@example.com", name: "O", password_hash: "x" })
    .execute();
});
afterAll(() => database.close());

/** A task that ran out of attempts: FAILED, with its error. */
async function failedTask(payload: unknown = { ms: 0 }) {
  const [outcome] = await tasks.createMany([
    { ownerId, type: "sleep", title: null, payload, maxAttempts: 1 },
  ]);
  const id = outcome?.task.id as string;
  await tasks.claim([{ taskId: id, redelivered: false }]);
  await tasks.finish([{ taskId: id, attempt: 1, ok: false, error: "boom" }], retry);
  return id;
}

/** The task's queue messages in the outbox (its lifecycle events go there too). */
const outboxFor = (id: string) =>
  database.db
    .selectFrom("outbox")
    .select("payload")
    .where("message_key", "=", id)
    .where("destination", "=", TASK_QUEUE_DESTINATION)
    .execute();

describe("an operator's retry of FAILED tasks", () => {
  it("moves the task back to PENDING with attempts 0, a new outbox message and its counters", async () => {
    const id = await failedTask();
    const before = await tasks.stats(ownerId);
    const outcome = await tasks.retryFailed(id, { payload: { ms: 5 } });
    expect(outcome).toMatchObject({
      kind: "retried",
      task: { id, status: "PENDING", attempts: 0, finished_at: null, last_error: "boom" },
    });
    expect((await tasks.get(ownerId, id))?.payload).toEqual({ ms: 5 });
    // One message from the create (never relayed here) and one from the retry.
    expect(await outboxFor(id)).toHaveLength(2);
    const after = await tasks.stats(ownerId);
    expect(after.FAILED).toBe(before.FAILED - 1);
    expect(after.PENDING).toBe(before.PENDING + 1);
  });

  it("tells a task that is not FAILED, or not there, from a retried one", async () => {
    const id = await failedTask();
    await tasks.retryFailed(id);
    expect(await tasks.retryFailed(id)).toEqual({ kind: "not_retryable", status: "PENDING" });
    expect(await tasks.retryFailed(uuidv7())).toEqual({ kind: "not_found" });
  });

  it("retries many in one transaction, skipping those that are not FAILED", async () => {
    const [a, b] = [await failedTask(), await failedTask()];
    const [pending] = await tasks.createMany([
      { ownerId, type: "sleep", title: null, payload: {}, maxAttempts: 1 },
    ]);
    const retried = await tasks.retryFailedMany([a, b, pending?.task.id as string]);
    expect(retried.map((t) => t.id).sort()).toEqual([a, b].sort());
  });

  it("commits the caller's extra work with the change, and rolls both back together", async () => {
    const id = await failedTask();
    const audit = (trx: Kysely<Database>) =>
      trx
        .insertInto("audit_log")
        .values({
          actor_id: ownerId,
          actor_email: "ops@example.com",
          action: "task.retry",
          target: `task:${id}`,
          details: "{}",
        })
        .execute();
    await expect(
      tasks.retryFailed(id, {
        also: async (trx) => {
          await audit(trx);
          throw new Error("audit refused");
        },
      }),
    ).rejects.toThrow("audit refused");
    expect((await tasks.get(ownerId, id))?.status).toBe("FAILED");
    const count = async () =>
      (
        await database.db
          .selectFrom("audit_log")
          .select("id")
          .where("target", "=", `task:${id}`)
          .execute()
      ).length;
    expect(await count()).toBe(0);
    await tasks.retryFailed(id, { also: async (trx) => void (await audit(trx)) });
    expect(await count()).toBe(1);
    expect((await tasks.get(ownerId, id))?.status).toBe("PENDING");
  });
});

describe("an operator's cancel", () => {
  it("cancels any owner's PENDING task, and refuses a finished one", async () => {
    const [created] = await tasks.createMany([
      { ownerId, type: "sleep", title: null, payload: {}, maxAttempts: 1 },
    ]);
    const id = created?.task.id as string;
    expect(await tasks.cancelAnyOwner(id)).toMatchObject({
      kind: "cancelled",
      task: { id, status: "CANCELLED" },
    });
    expect(await tasks.cancelAnyOwner(id)).toEqual({
      kind: "not_cancellable",
      status: "CANCELLED",
    });
    expect(await tasks.cancelAnyOwner(uuidv7())).toEqual({ kind: "not_found" });
  });
});
