import { createDatabase, migrateUp } from "@taskflow/db";
import { createLogger } from "@taskflow/observability";
import { createTaskRepository } from "@taskflow/tasks";
import { waitFor } from "@taskflow/testing";
import { uuidv7 } from "uuidv7";
import { afterAll, describe, expect, it } from "vitest";
import { createHistoryPruner } from "../src/index.ts";

// The pruning itself is tested in packages/tasks (history-retention.test.ts); this is the loop.
describe("the history pruner", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  await migrateUp(database.db);
  afterAll(() => database.close());
  const tasks = createTaskRepository(database.db);
  const owner = uuidv7();
  await database.db
    .insertInto("users")
    .values({ id: owner, email: `${owner}@example.com`, name: "O", password_hash: "x" })
    .execute();

  /** A task DONE `daysAgo` days ago, through the repository (counters and all). */
  async function doneTask(daysAgo: number): Promise<string> {
    const [created] = await tasks.createMany([
      { ownerId: owner, type: "echo", title: null, payload: {}, maxAttempts: 1 },
    ]);
    const id = created?.task.id as string;
    await tasks.claim([{ taskId: id, redelivered: false }]);
    await tasks.finish([{ taskId: id, attempt: 1, ok: true, result: {} }], {
      baseMs: 1_000,
      maxMs: 1_000,
    });
    await database.db
      .updateTable("tasks")
      .set({ finished_at: new Date(Date.now() - daysAgo * 86_400_000) })
      .where("id", "=", id)
      .execute();
    return id;
  }
  const exists = async (id: string) =>
    (await database.db.selectFrom("tasks").select("id").where("id", "=", id).executeTakeFirst()) !==
    undefined;

  it("prunes at start and again on its interval, until stopped", async () => {
    const first = await doneTask(40);
    const recent = await doneTask(1);
    const pruner = createHistoryPruner({
      db: database.db,
      retentionDays: 30,
      intervalMs: 50,
      logger: createLogger({ level: "silent", service: "pruner-test" }),
    });
    pruner.start();
    await waitFor(async () => !(await exists(first)), { what: "the first pass" });
    const second = await doneTask(40);
    await waitFor(async () => !(await exists(second)), { what: "a later pass" });
    await pruner.stop();
    expect(await exists(recent)).toBe(true);
    const third = await doneTask(40);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await exists(third)).toBe(true);
  });
});
