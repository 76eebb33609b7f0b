import type { Database, DatabaseHandle, JobHistoryRow, Kysely } from "@taskflow/db";
import { engineAvailable, testEngines, uniqueName, waitFor } from "@taskflow/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  createEmbeddedJobQueue,
  type JobHandler,
  type JobProcessor,
  type JobQueue,
  PermanentJobError,
  withJobHistory,
} from "../src/index.ts";
import { createBullMqJobQueue } from "../src/redis/index.ts";
import { embeddedDatabases, redisTestPrefix } from "./fixtures.ts";

/** An engine's raw queue on a fresh name, and the database its history goes to. */
interface HistoryFixture {
  db: Kysely<Database>;
  open(queue: string): JobQueue;
}

const databases = embeddedDatabases();
// Every BullMQ key of this run lives under one prefix, removed afterwards.
const prefix = redisTestPrefix("taskflow-test-bull");

let sharedPglite: Promise<DatabaseHandle> | undefined;
const pglite = () => {
  sharedPglite ??= databases.pglite();
  return sharedPglite;
};

async function openPostgres(): Promise<DatabaseHandle | undefined> {
  return (await databases.postgres())?.connect();
}

function describeJobHistory(engine: string, fixture: () => Promise<HistoryFixture | undefined>) {
  describe(`job history over ${engine}`, async () => {
    const f = await fixture();
    const opened: JobQueue[] = [];
    const processors: JobProcessor[] = [];
    const errors: Error[] = [];
    let name = "";

    /** A fresh queue, decorated, with its history. */
    const open = () => {
      if (!f) throw new Error("fixture unavailable");
      name = uniqueName("jobs");
      const queue = withJobHistory(f.open(name), f.db, { onError: (e) => errors.push(e) });
      opened.push(queue);
      return queue;
    };
    const processWith = async (queue: JobQueue, handler: JobHandler) => {
      const processor = await queue.process(handler, { concurrency: 2 });
      processors.push(processor);
      return processor;
    };
    const row = (jobId: string): Promise<JobHistoryRow | undefined> => {
      if (!f) throw new Error("fixture unavailable");
      return f.db
        .selectFrom("job_history")
        .selectAll()
        .where("queue", "=", name)
        .where("job_id", "=", jobId)
        .executeTakeFirst();
    };
    const rowIn = (jobId: string, state: JobHistoryRow["state"]) =>
      waitFor(
        async () => {
          const found = await row(jobId);
          return found?.state === state ? found : undefined;
        },
        { what: `${jobId} ${state} in the history` },
      );

    afterEach(async () => {
      await Promise.all(processors.splice(0).map((p) => p.close(1_000).catch(() => {})));
      await Promise.all(opened.splice(0).map((q) => q.close().catch(() => {})));
      expect(errors.splice(0)).toEqual([]);
    });

    it.skipIf(!f)("records a job from its addition to its result", async () => {
      const queue = open();
      await queue.add([
        { name: "report.build", jobId: "report:1", data: { region: "north" }, priority: 2 },
      ]);
      expect(await row("report:1")).toMatchObject({
        name: "report.build",
        state: "waiting",
        priority: 2,
        attempts_made: 0,
        max_attempts: 5,
        data: { region: "north" },
        started_at: null,
        finished_at: null,
      });
      await processWith(queue, async (run) => ({ built: run.data }));
      const done = await rowIn("report:1", "completed");
      expect(done).toMatchObject({
        attempts_made: 1,
        result: { built: { region: "north" } },
        failed_reason: null,
        removed_at: null,
      });
      expect(done.started_at).toBeInstanceOf(Date);
      expect(done.finished_at?.getTime()).toBeGreaterThanOrEqual(done.started_at?.getTime() ?? 0);
      expect(done.created_at.getTime()).toBeLessThanOrEqual(done.finished_at?.getTime() ?? 0);
      // The engine's record and the history agree.
      expect((await queue.get("report:1"))?.state).toBe("completed");
    });

    it.skipIf(!f)("records a retried job's attempts until one succeeds", async () => {
      const queue = open();
      await queue.add([{ name: "flaky", jobId: "flaky", data: {}, attempts: 3, backoffMs: 20 }]);
      const seen: string[] = [];
      await processWith(queue, async (run) => {
        // History is written behind the jobs (batched): the retry may start before the
        // failure is on record, but the record must come, and keep its reason meanwhile.
        const before =
          run.attempt < 2
            ? await row("flaky")
            : await waitFor(async () => {
                const current = await row("flaky");
                return current?.failed_reason ? current : undefined;
              });
        seen.push(`${run.attempt}:${before?.state}:${before?.failed_reason ?? ""}`);
        if (run.attempt < 2) throw new Error("not yet");
        return "finally";
      });
      const done = await rowIn("flaky", "completed");
      expect(done).toMatchObject({ attempts_made: 2, result: "finally", failed_reason: null });
      // Between the attempts, the history showed the job waiting for its retry, and why.
      expect(seen[1]).toMatch(/^2:(waiting|active):not yet$/);
      expect(await queue.get("flaky")).toMatchObject({ state: "completed", attemptsMade: 2 });
    });

    it.skipIf(!f)(
      "records a job that ran out of attempts, and its retry by an operator",
      async () => {
        const queue = open();
        await queue.add([
          { name: "broken", jobId: "broken", data: { v: 1 }, attempts: 2, backoffMs: 10 },
        ]);
        await processWith(queue, async (run) => {
          if ((run.data as { v: number }).v === 1) throw new Error(`boom ${run.attempt}`);
          return "fixed";
        });
        const failed = await rowIn("broken", "failed");
        expect(failed).toMatchObject({ attempts_made: 2, failed_reason: "boom 2", result: null });
        expect(failed.finished_at).toBeInstanceOf(Date);

        expect(await queue.retry("broken", { data: { v: 2 } })).toBe(true);
        const done = await rowIn("broken", "completed");
        expect(done).toMatchObject({ attempts_made: 1, data: { v: 2 }, result: "fixed" });
        expect(await queue.retry("broken")).toBe(false);
      },
    );

    it.skipIf(!f)("records a PermanentJobError as failed at once", async () => {
      const queue = open();
      await queue.add([{ name: "email.welcome", jobId: "mail-1", data: { to: "x" }, attempts: 5 }]);
      await processWith(queue, async () => {
        throw new PermanentJobError("550 no such user");
      });
      const failed = await rowIn("mail-1", "failed");
      expect(failed).toMatchObject({ attempts_made: 1, failed_reason: "550 no such user" });
      expect((await queue.get("mail-1"))?.state).toBe("failed");
    });

    it.skipIf(!f)(
      "keeps a purged job's history, and starts it over when the id comes back",
      async () => {
        const queue = open();
        await queue.add([{ name: "later", jobId: "later", data: { n: 1 }, delayMs: 60_000 }]);
        const delayed = await row("later");
        expect(delayed).toMatchObject({ state: "delayed", attempts_made: 0 });
        expect(delayed?.run_at?.getTime()).toBeGreaterThan(Date.now() + 30_000);

        expect(await queue.remove("later")).toBe(true);
        expect(await queue.get("later")).toBeUndefined();
        const removed = await row("later");
        expect(removed).toMatchObject({ state: "delayed", data: { n: 1 } });
        expect(removed?.removed_at).toBeInstanceOf(Date);
        expect(await queue.remove("later")).toBe(false);

        // Added again after the purge: the engine takes it as a new job, so does the history.
        await queue.add([{ name: "later", jobId: "later", data: { n: 2 } }]);
        expect(await row("later")).toMatchObject({
          state: "waiting",
          data: { n: 2 },
          run_at: null,
          removed_at: null,
        });
      },
    );

    it.skipIf(!f)("does not let a duplicate add overwrite a job that moved on", async () => {
      const queue = open();
      await queue.add([{ name: "once", jobId: "once", data: { v: 1 } }]);
      await processWith(queue, async () => "ran");
      await rowIn("once", "completed");
      await queue.add([
        { name: "once", jobId: "once", data: { v: 2 } },
        { name: "once", jobId: "other", data: { v: 3 } },
      ]);
      expect(await row("once")).toMatchObject({ state: "completed", data: { v: 1 } });
      await rowIn("other", "completed");
    });
  });
}

describeJobHistory("the embedded queue (PGlite)", async () => {
  const database = await pglite();
  return {
    db: database.db,
    open: (queue) => createEmbeddedJobQueue({ database, queue, pollMs: 50 }),
  };
});

describeJobHistory("the embedded queue (PostgreSQL)", async () => {
  const database = await openPostgres();
  if (!database) return undefined;
  return {
    db: database.db,
    open: (queue) => createEmbeddedJobQueue({ database, queue, pollMs: 50 }),
  };
});

describeJobHistory("BullMQ (Redis), history in PostgreSQL", async () => {
  if (!(await engineAvailable("redis"))) return undefined;
  const database = await openPostgres();
  if (!database) return undefined;
  return {
    db: database.db,
    open: (queue) => createBullMqJobQueue({ url: testEngines.redisUrl, queue, prefix }),
  };
});

describe("job history that cannot be written", () => {
  it("reports the error and lets the jobs run", async () => {
    const database = await pglite();
    const errors: Error[] = [];
    const queue = withJobHistory(
      createEmbeddedJobQueue({ database, queue: uniqueName("no-history"), pollMs: 50 }),
      // A schema without the table: every history write fails.
      database.db.withSchema("no_history_here"),
      { onError: (e) => errors.push(e) },
    );
    await queue.add([{ name: "still", jobId: "still", data: {} }]);
    const processor = await queue.process(async () => "done", { concurrency: 1 });
    await waitFor(async () => (await queue.get("still"))?.state === "completed");
    await processor.close(1_000);
    await queue.close();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]?.message).toMatch(/job_history/);
  });
});
