import { createDatabase, type DatabaseHandle, migrateUp, sql, type TaskStatus } from "@taskflow/db";
import { createTestDatabase, engineAvailable } from "@taskflow/testing";
import { uuidv7 } from "uuidv7";
import { afterAll, describe, expect, it } from "vitest";
import { createTaskRepository, pruneHistory, type TaskRepository } from "../src/index.ts";

const handles: DatabaseHandle[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await Promise.all(cleanups.map((c) => c()));
});

interface Fixture {
  database: DatabaseHandle;
  tasks: TaskRepository;
  owners: string[];
}

async function seedOwners(database: DatabaseHandle): Promise<string[]> {
  const owners = [uuidv7(), uuidv7()];
  await database.db
    .insertInto("users")
    .values(
      owners.map((id, i) => ({
        id,
        email: `o${i}-${id}@example.com`,
        name: "O",
        password_hash: "x",
      })),
    )
    .execute();
  return owners;
}

function describeRetention(engine: string, open: () => Promise<DatabaseHandle | undefined>) {
  describe(`history retention on ${engine}`, async () => {
    const database = await open();
    const f: Fixture | undefined = database && {
      database,
      tasks: createTaskRepository(database.db),
      owners: await seedOwners(database),
    };
    const fixture = () => {
      if (!f) throw new Error("fixture unavailable");
      return f;
    };

    /** A task of `owner` moved to `status` through the repository (counters and all). */
    async function taskIn(owner: string, status: TaskStatus): Promise<string> {
      const { tasks } = fixture();
      const [created] = await tasks.createMany([
        { ownerId: owner, type: "echo", title: null, payload: {}, maxAttempts: 1 },
      ]);
      const id = created?.task.id as string;
      if (status === "PENDING") return id;
      if (status === "CANCELLED") {
        await tasks.cancel(owner, id);
        return id;
      }
      await tasks.claim([{ taskId: id, redelivered: false }]);
      if (status === "PROCESSING") return id;
      await tasks.finish(
        [
          status === "DONE"
            ? { taskId: id, attempt: 1, ok: true, result: {} }
            : { taskId: id, attempt: 1, ok: false, error: "broken" },
        ],
        { baseMs: 1_000, maxMs: 1_000 },
      );
      return id;
    }

    /** Moves a task's finish (and creation) back in time, as if it were that old. */
    async function age(id: string, days: number) {
      await sql`UPDATE tasks SET created_at = now() - ${`${days} days`}::interval,
                                 finished_at = now() - ${`${days} days`}::interval
                WHERE id = ${id}`.execute(fixture().database.db);
    }

    async function countersMatchTable() {
      const { rows } = await sql<{
        owner_id: string;
        status: string;
        counted: number;
        real: number;
      }>`
        SELECT c.owner_id, c.status, c.count::int AS counted,
               (SELECT count(*)::int FROM tasks t
                 WHERE t.owner_id = c.owner_id AND t.status = c.status) AS real
        FROM task_counts c
      `.execute(fixture().database.db);
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(row.counted, `${row.owner_id} ${row.status}`).toBe(row.real);
    }

    const exists = async (id: string) =>
      (await fixture()
        .database.db.selectFrom("tasks")
        .select("id")
        .where("id", "=", id)
        .executeTakeFirst()) !== undefined;

    async function historyRow(
      jobId: string,
      finishedDaysAgo: number | null,
      removedDaysAgo?: number,
    ) {
      const ago = (days: number | null | undefined) =>
        days === null || days === undefined ? null : sql<Date>`now() - ${`${days} days`}::interval`;
      await fixture()
        .database.db.insertInto("job_history")
        .values({
          queue: "retention",
          job_id: jobId,
          name: "report.build",
          state: finishedDaysAgo === null ? "waiting" : "completed",
          max_attempts: 1,
          data: "{}",
          finished_at: ago(finishedDaysAgo),
          removed_at: ago(removedDaysAgo),
        })
        .execute();
    }

    it.skipIf(!f)(
      "deletes only old finished tasks, in batches, keeping the counters exact",
      async () => {
        const [ada, bob] = fixture().owners as [string, string];
        const old = [
          await taskIn(ada, "DONE"),
          await taskIn(ada, "FAILED"),
          await taskIn(bob, "CANCELLED"),
          await taskIn(bob, "DONE"),
          await taskIn(bob, "DONE"),
        ];
        const recent = [await taskIn(ada, "DONE"), await taskIn(bob, "FAILED")];
        // Old, but not finished: never deleted, whatever their age.
        const unfinished = [await taskIn(ada, "PENDING"), await taskIn(bob, "PROCESSING")];
        for (const id of [...old, ...unfinished]) await age(id, 40);
        for (const id of recent) await age(id, 10);
        await countersMatchTable();

        // Batches of two: five old tasks take three of them.
        const pruned = await pruneHistory(fixture().database.db, {
          olderThanDays: 30,
          batchSize: 2,
        });
        expect(pruned.tasks).toBe(5);
        for (const id of old) expect(await exists(id)).toBe(false);
        for (const id of [...recent, ...unfinished]) expect(await exists(id)).toBe(true);
        await countersMatchTable();
        const stats = await fixture().tasks.stats(bob);
        expect(stats).toMatchObject({ DONE: 0, CANCELLED: 0, FAILED: 1, PROCESSING: 1 });

        expect(await pruneHistory(fixture().database.db, { olderThanDays: 30 })).toEqual({
          tasks: 0,
          jobs: 0,
        });
        await expect(pruneHistory(fixture().database.db, { olderThanDays: 0 })).rejects.toThrow(
          RangeError,
        );
      },
    );

    it.skipIf(!f)(
      "deletes job history of jobs that finished, or were purged, before the retention",
      async () => {
        await historyRow("old-done", 40);
        await historyRow("recent-done", 5);
        await historyRow("old-purged", null, 40);
        await historyRow("recent-purged", null, 5);
        await historyRow("still-waiting", null);
        await sql`UPDATE job_history SET created_at = now() - interval '90 days'`.execute(
          fixture().database.db,
        );

        const pruned = await pruneHistory(fixture().database.db, {
          olderThanDays: 30,
          batchSize: 1,
        });
        expect(pruned.jobs).toBe(2);
        const left = await fixture()
          .database.db.selectFrom("job_history")
          .select("job_id")
          .where("queue", "=", "retention")
          .orderBy("job_id")
          .execute();
        expect(left.map((r) => r.job_id)).toEqual([
          "recent-done",
          "recent-purged",
          "still-waiting",
        ]);
      },
    );
  });
}

describeRetention("PGlite", async () => {
  const database = await createDatabase({ dataDir: "memory://" });
  handles.push(database);
  await migrateUp(database.db);
  return database;
});

describeRetention("PostgreSQL", async () => {
  if (!(await engineAvailable("postgres"))) return undefined;
  const testDb = await createTestDatabase();
  cleanups.push(testDb.drop);
  const database = await createDatabase({ url: testDb.url, dataDir: "unused" });
  handles.push(database);
  await migrateUp(database.db);
  return database;
});
