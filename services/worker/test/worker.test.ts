import { createDatabase, type DatabaseHandle, migrateUp, sql } from "@taskflow/db";
import {
  createEmbeddedTaskQueue,
  createRabbitMqTaskQueue,
  type TaskQueue,
} from "@taskflow/messaging";
import { createLogger, createMetrics } from "@taskflow/observability";
import { createRelay, outboxPublishers, type Relay } from "@taskflow/relay";
import { createTaskRepository, type TaskRepository } from "@taskflow/tasks";
import {
  createTestDatabase,
  deleteRabbitMqQueue,
  engineAvailable,
  testEngines,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { uuidv7 } from "uuidv7";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWorker, taskHandlers, type Worker } from "../src/index.ts";

interface Engines {
  database: DatabaseHandle;
  openQueue(name: string): TaskQueue;
  deleteQueue?(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

const engines: Record<string, () => Promise<Engines | undefined>> = {
  "PGlite and the embedded queue": async () => {
    const database = await createDatabase({ dataDir: "memory://" });
    await migrateUp(database.db);
    return {
      database,
      openQueue: (queue) => createEmbeddedTaskQueue({ database, queue, pollMs: 100 }),
      cleanup: () => database.close(),
    };
  },
  "PostgreSQL and RabbitMQ": async () => {
    if (!(await engineAvailable("postgres")) || !(await engineAvailable("rabbitmq")))
      return undefined;
    const testDb = await createTestDatabase("taskflow_worker");
    const database = await createDatabase({ url: testDb.url, dataDir: "unused", poolSize: 5 });
    await migrateUp(database.db);
    return {
      database,
      openQueue: (queue) => createRabbitMqTaskQueue({ url: testEngines.amqpUrl, queue }),
      deleteQueue: (queue) => deleteRabbitMqQueue(queue),
      cleanup: async () => {
        await database.close();
        await testDb.drop();
      },
    };
  },
};

const silent = createLogger({ level: "silent", service: "worker-test" });

for (const [name, open] of Object.entries(engines)) {
  describe(`a worker on ${name}`, async () => {
    const e = await open();
    const available = () => {
      if (!e) throw new Error("engines unavailable");
      return e;
    };
    let queue: TaskQueue;
    let relay: Relay;
    let worker: Worker;
    let tasks: TaskRepository;
    let ownerId: string;

    beforeAll(async () => {
      if (!e) return;
      tasks = createTaskRepository(e.database.db);
      ownerId = uuidv7();
      await e.database.db
        .insertInto("users")
        .values({ id: ownerId, email: `${ownerId}@example.com`, name: "W", password_hash: "x" })
        .execute();
    });
    afterAll(async () => {
      await e?.cleanup();
    });

    async function startPipeline(options: { concurrency?: number } = {}) {
      if (!e) throw new Error("engines unavailable");
      queue = e.openQueue(uniqueName("worker.tasks"));
      const metrics = createMetrics("worker-test");
      relay = createRelay({
        database: e.database,
        publishers: outboxPublishers({ taskQueue: queue }),
        logger: silent,
        metrics,
        pollMs: 200,
      });
      worker = createWorker({
        tasks,
        queue,
        handlers: taskHandlers,
        logger: silent,
        metrics,
        concurrency: options.concurrency ?? 16,
        prefetch: 64,
        retry: { baseMs: 20, maxMs: 100 },
      });
      await relay.start();
      await worker.start();
    }

    afterEach(async () => {
      await worker?.stop(2_000);
      await relay?.stop();
      await queue?.close();
      await e?.deleteQueue?.(queue.name);
    });

    const create = async (type: string, payload: unknown, maxAttempts = 3) => {
      const [outcome] = await tasks.createMany([
        { ownerId, type, title: null, payload, maxAttempts },
      ]);
      if (!outcome) throw new Error("not created");
      return outcome.task.id;
    };

    const settled = (id: string) =>
      waitFor(
        async () => {
          const task = await tasks.get(ownerId, id);
          return task && ["DONE", "FAILED", "CANCELLED"].includes(task.status) ? task : undefined;
        },
        { what: `task ${id} to settle` },
      );

    it.skipIf(!e)("runs tasks to DONE with their results, and empties the queue", async () => {
      await startPipeline();
      const ids = await Promise.all([
        create("echo", { hi: 1 }),
        create("sleep", { ms: 10 }),
        create("hash", { rounds: 3, input: "x" }),
      ]);
      const done = await Promise.all(ids.map(settled));
      expect(done.map((t) => t.status)).toEqual(["DONE", "DONE", "DONE"]);
      expect(done[0]?.result).toEqual({ hi: 1 });
      expect(done[1]?.result).toEqual({ slept_ms: 10 });
      expect((done[2]?.result as { digest?: string } | undefined)?.digest).toMatch(
        /^[0-9a-f]{64}$/,
      );
      expect(done.every((t) => t.attempts === 1 && t.started_at && t.finished_at)).toBe(true);
      await waitFor(async () => (await queue.stats()).waiting === 0, { what: "an empty queue" });
    });

    it.skipIf(!e)("retries a failed attempt after a backoff, then succeeds", async () => {
      await startPipeline();
      const id = await create("fail", { times: 2 });
      const task = await settled(id);
      expect(task.status).toBe("DONE");
      expect(task.attempts).toBe(3);
      expect(task.last_error).toMatch(/attempt 2/);
    });

    it.skipIf(!e)(
      "marks a task FAILED after max_attempts and dead-letters its message",
      async () => {
        await startPipeline();
        const id = await create("fail", { times: 10 }, 2);
        const task = await settled(id);
        expect(task.status).toBe("FAILED");
        expect(task.attempts).toBe(2);
        expect(task.last_error).toMatch(/failing on purpose/);
        await waitFor(async () => (await queue.stats()).deadLettered === 1, {
          what: "one dead letter",
        });
        const [dead] = await queue.peekDeadLetters(5);
        expect(dead?.body).toEqual({ task_id: id, type: "fail", priority: 5 });
      },
    );

    it.skipIf(!e)("fails a task whose type no handler knows", async () => {
      await startPipeline();
      const id = await create("ghost", {}, 1);
      const task = await settled(id);
      expect(task.status).toBe("FAILED");
      expect(task.last_error).toBe('no handler for task type "ghost"');
    });

    it.skipIf(!e)(
      "skips a duplicate message for a task already DONE, and dead-letters an unreadable one",
      async () => {
        await startPipeline();
        const id = await create("echo", { once: true });
        await settled(id);
        await queue.publish([
          { id: "dup", body: { task_id: id, type: "echo" } },
          { id: "junk", body: { nonsense: true } },
        ]);
        await waitFor(async () => (await queue.stats()).deadLettered === 1, {
          what: "the unreadable message dead-lettered",
        });
        await waitFor(async () => (await queue.stats()).waiting === 0, {
          what: "the duplicate consumed",
        });
        const task = await tasks.get(ownerId, id);
        expect(task?.attempts).toBe(1);
        expect(task?.status).toBe("DONE");
      },
    );

    it.skipIf(!e)("finishes in-flight work before stop() resolves", async () => {
      await startPipeline({ concurrency: 8 });
      const ids = await Promise.all(Array.from({ length: 6 }, () => create("sleep", { ms: 400 })));
      await waitFor(async () => (await tasks.stats(ownerId)).PROCESSING >= 6, {
        what: "six tasks PROCESSING",
      });
      await worker.stop(5_000);
      const rows = await available()
        .database.db.selectFrom("tasks")
        .select(["status", "attempts"])
        .where("id", "in", ids)
        .execute();
      expect(rows.map((r) => r.status)).toEqual(Array(6).fill("DONE"));
      expect(rows.every((r) => r.attempts === 1)).toBe(true);
    });

    it.skipIf(!e)("keeps the counters equal to the table after a mixed run", async () => {
      await startPipeline();
      await Promise.all([
        ...Array.from({ length: 30 }, () => create("sleep", { ms: 0 })),
        create("fail", { times: 9 }, 1),
      ]);
      await waitFor(
        async () => {
          const s = await tasks.stats(ownerId);
          return s.PENDING + s.PROCESSING + s.RETRYING === 0;
        },
        { what: "every task settled" },
      );
      const { rows } = await sql<{
        status: string;
        n: number;
      }>`SELECT status, count(*)::int AS n FROM tasks WHERE owner_id = ${ownerId} GROUP BY status`.execute(
        available().database.db,
      );
      const stats = await tasks.stats(ownerId);
      for (const row of rows)
        expect(stats[row.status as keyof typeof stats], row.status).toBe(row.n);
    });
  });
}
