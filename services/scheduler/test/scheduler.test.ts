import { createDatabase, type DatabaseHandle, migrateUp } from "@taskflow/db";
import { createLogger } from "@taskflow/observability";
import { createScheduleRepository, createTaskRepository, nextTick } from "@taskflow/tasks";
import { createTestDatabase, engineAvailable, waitFor } from "@taskflow/testing";
import { uuidv7 } from "uuidv7";
import { afterAll, describe, expect, it } from "vitest";
import { createScheduler } from "../src/index.ts";

const engines: Record<string, () => Promise<{ database: DatabaseHandle; drop(): Promise<void> }>> =
  {
    PGlite: async () => ({
      database: await createDatabase({ dataDir: "memory://" }),
      drop: async () => {},
    }),
    PostgreSQL: async () => {
      const testDb = await createTestDatabase("taskflow_scheduler");
      return {
        database: await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 4 }),
        drop: () => testDb.drop(),
      };
    },
  };
const postgres = await engineAvailable("postgres");
const silent = createLogger({ level: "silent", service: "scheduler-test" });

for (const [name, open] of Object.entries(engines)) {
  describe.skipIf(name === "PostgreSQL" && !postgres)(`the scheduler on ${name}`, async () => {
    const { database, drop } = await open();
    await migrateUp(database.db);
    const tasks = createTaskRepository(database.db);
    const schedules = createScheduleRepository(database.db);
    afterAll(async () => {
      await database.close();
      await drop();
    });

    async function newSchedule(cron: string, firstTick: Date, timezone = "UTC") {
      const ownerId = uuidv7();
      await database.db
        .insertInto("users")
        .values({ id: ownerId, email: `${ownerId}@example.com`, name: "S", password_hash: "x" })
        .execute();
      const schedule = await schedules.create({
        ownerId,
        name: "nightly",
        cron,
        timezone,
        taskType: "echo",
        taskTitle: null,
        taskPayload: { hello: "world" },
        taskMaxAttempts: 3,
        taskPriority: 2,
        nextRunAt: firstTick,
      });
      return { schedule, ownerId };
    }
    const tasksOf = (ownerId: string) =>
      database.db
        .selectFrom("tasks")
        .select(["id", "title", "payload", "idempotency_key", "status", "priority"])
        .where("owner_id", "=", ownerId)
        .orderBy("id")
        .execute();
    /** Schedulers that read the time from `clock`. */
    const clock = { at: new Date("2026-11-23T10:00:00.500Z") };
    const scheduler = () =>
      createScheduler({ schedules, tasks, logger: silent, now: () => new Date(clock.at) });

    it("when two schedulers fire the same ticks, then each tick makes exactly one task", async () => {
      const first = new Date("2026-11-23T10:00:00Z");
      const { schedule, ownerId } = await newSchedule("* * * * * *", first);
      const [a, b] = [scheduler(), scheduler()];
      clock.at = new Date("2026-11-23T10:00:00.500Z");
      await Promise.all([a.pass(), b.pass()]);
      clock.at = new Date("2026-11-23T10:00:01.500Z");
      await Promise.all([a.pass(), b.pass(), a.pass()]);
      const made = await tasksOf(ownerId);
      expect(made.map((t) => t.idempotency_key)).toEqual([
        `schedule.${schedule.id}.2026-11-23T10:00:00.000Z`,
        `schedule.${schedule.id}.2026-11-23T10:00:01.000Z`,
      ]);
      expect(made.map((t) => [t.title, t.payload, t.status])).toEqual([
        ["nightly", { hello: "world" }, "PENDING"],
        ["nightly", { hello: "world" }, "PENDING"],
      ]);
      expect(made.map((t) => t.priority)).toEqual([2, 2]); // the schedule's task priority
      const after = await schedules.get(ownerId, schedule.id);
      expect(after?.next_run_at.toISOString()).toBe("2026-11-23T10:00:02.000Z");
      expect(after?.last_task_id).toBe(made[1]?.id);
      // Their heartbeats count each tick once, by the scheduler that moved the schedule on.
      expect(a.stats.processed + b.stats.processed).toBe(2);
      expect([a.stats, b.stats].map((s) => [s.inFlight, s.failed])).toEqual([
        [0, 0],
        [0, 0],
      ]);
      // The task was queued with it, like any other.
      const queued = await database.db
        .selectFrom("outbox")
        .select("message_key")
        .where(
          "message_key",
          "in",
          made.map((t) => t.id),
        )
        .execute();
      expect(queued).toHaveLength(2);
    });

    it("when ticks were missed, then it fires once and moves on to the next tick after now", async () => {
      const { schedule, ownerId } = await newSchedule(
        "0 * * * *",
        new Date("2026-11-23T06:00:00Z"),
      );
      clock.at = new Date("2026-11-23T10:30:00Z");
      await scheduler().pass();
      expect(await tasksOf(ownerId)).toHaveLength(1);
      expect((await schedules.get(ownerId, schedule.id))?.next_run_at.toISOString()).toBe(
        "2026-11-23T11:00:00.000Z",
      );
    });

    it("when a scheduler died between creating the task and advancing, then the tick is not fired twice", async () => {
      const tick = new Date("2026-11-23T10:00:00Z");
      const { schedule, ownerId } = await newSchedule("0 * * * *", tick);
      await tasks.createMany([
        {
          ownerId,
          type: "echo",
          title: "nightly",
          payload: { hello: "world" },
          maxAttempts: 3,
          idempotencyKey: `schedule.${schedule.id}.${tick.toISOString()}`,
        },
      ]);
      clock.at = new Date("2026-11-23T10:00:05Z");
      await scheduler().pass();
      expect(await tasksOf(ownerId)).toHaveLength(1);
      expect((await schedules.get(ownerId, schedule.id))?.next_run_at.toISOString()).toBe(
        "2026-11-23T11:00:00.000Z",
      );
    });

    it("when a schedule is paused, then it does not fire; resumed, it fires from the next tick", async () => {
      const { schedule, ownerId } = await newSchedule(
        "0 * * * *",
        new Date("2026-11-23T10:00:00Z"),
      );
      await schedules.setPaused(ownerId, schedule.id, true);
      clock.at = new Date("2026-11-23T12:30:00Z");
      await scheduler().pass();
      expect(await tasksOf(ownerId)).toHaveLength(0);
      await schedules.setPaused(
        ownerId,
        schedule.id,
        false,
        nextTick("0 * * * *", "UTC", clock.at),
      );
      await scheduler().pass();
      expect(await tasksOf(ownerId)).toHaveLength(0);
      clock.at = new Date("2026-11-23T13:00:00.200Z");
      await scheduler().pass();
      expect(await tasksOf(ownerId)).toHaveLength(1);
    });

    it("when started on the real clock, then it fires every second until stopped", async () => {
      const { ownerId } = await newSchedule("* * * * * *", new Date());
      const running = createScheduler({ schedules, tasks, logger: silent, pollMs: 200 });
      running.start();
      await waitFor(async () => (await tasksOf(ownerId)).length >= 2, {
        what: "two ticks' tasks",
        timeoutMs: 10_000,
      });
      await running.stop();
      const made = (await tasksOf(ownerId)).length;
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect((await tasksOf(ownerId)).length).toBe(made);
    });
  });
}
