import { waitFor } from "@taskflow/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  type JobChange,
  type JobHandler,
  type JobProcessor,
  type JobQueue,
  type JobRun,
  type JobState,
  MAX_CHANGE_REASON_LENGTH,
  PermanentJobError,
} from "../src/index.ts";

/**
 * What every JobQueue adapter promises, run against each real engine. `open(name)` returns a
 * fresh adapter instance on the queue `name` (a second call: a second process on it). Its
 * locks or leases must be short (a second or two): a processor that went away is detected
 * by their running out.
 */
export interface JobQueueFixture {
  open(queue: string): Promise<JobQueue>;
  newQueueName(): string;
}

function deferred<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A handler that records every run it is given, then does what `act` says. */
function recorder(act: (run: JobRun) => Promise<unknown> | unknown = () => undefined) {
  const runs: JobRun[] = [];
  const handler: JobHandler = async (run) => {
    runs.push(run);
    return act(run);
  };
  const of = (id: string) => runs.filter((r) => r.id === id);
  return { runs, handler, of };
}

async function stateOf(queue: JobQueue, id: string): Promise<JobState | undefined> {
  return (await queue.get(id))?.state;
}

export function describeJobQueueContract(
  engine: string,
  fixture: () => Promise<JobQueueFixture | undefined>,
) {
  describe(`JobQueue contract on ${engine}`, async () => {
    const f = await fixture();
    const opened: JobQueue[] = [];
    const processors: JobProcessor[] = [];
    const open = async () => {
      if (!f) throw new Error("fixture unavailable");
      const queue = await f.open(f.newQueueName());
      opened.push(queue);
      return queue;
    };
    /** A second process on the same queue. */
    const openAgain = async (name: string) => {
      if (!f) throw new Error("fixture unavailable");
      const queue = await f.open(name);
      opened.push(queue);
      return queue;
    };
    const processWith = async (queue: JobQueue, handler: JobHandler, concurrency = 1) => {
      const processor = await queue.process(handler, { concurrency });
      processors.push(processor);
      return processor;
    };
    afterEach(async () => {
      await Promise.all(processors.splice(0).map((p) => p.close(1_000).catch(() => {})));
      await Promise.all(opened.splice(0).map((q) => q.close().catch(() => {})));
    });

    it.skipIf(!f)("runs added jobs with their data and keeps their results", async () => {
      const queue = await open();
      await queue.add(
        Array.from({ length: 20 }, (_, n) => ({
          name: "math.double",
          jobId: `double-${n}`,
          data: { n, nested: { ok: true } },
        })),
      );
      const { runs, handler } = recorder((run) => ({ doubled: (run.data as { n: number }).n * 2 }));
      await processWith(queue, handler, 4);
      await waitFor(async () => (await queue.counts()).completed === 20, { what: "20 completed" });

      expect(new Set(runs.map((r) => r.id)).size).toBe(20);
      const seventh = runs.find((r) => r.id === "double-7");
      expect(seventh).toMatchObject({
        name: "math.double",
        data: { n: 7, nested: { ok: true } },
        attempt: 1,
        maxAttempts: 5,
      });
      const view = await queue.get("double-7");
      expect(view).toMatchObject({
        id: "double-7",
        name: "math.double",
        data: { n: 7, nested: { ok: true } },
        state: "completed",
        attemptsMade: 1,
        maxAttempts: 5,
        priority: 5,
        failedReason: null,
        result: { doubled: 14 },
        runAt: null,
      });
      expect(view?.createdAt).toBeInstanceOf(Date);
      expect(view?.finishedAt).toBeInstanceOf(Date);
      const listed = await queue.list("completed", 5);
      expect(listed).toHaveLength(5);
      expect(listed.every((j) => j.state === "completed")).toBe(true);
      expect(await queue.get("no-such-job")).toBeUndefined();
    });

    it.skipIf(!f)("keeps any id, also ones an engine treats specially", async () => {
      const queue = await open();
      // BullMQ: no ":" or integers in ids, and its own key names (wait, meta, …) next to them.
      const ids = ["welcome:user-1", "42", "100%:done", "%3A", "wait", "meta"];
      await queue.add(ids.map((jobId) => ({ name: "odd.id", jobId, data: { jobId } })));
      const { runs, handler } = recorder();
      await processWith(queue, handler, 2);
      await waitFor(async () => (await queue.counts()).completed === ids.length);
      expect(runs.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect(runs.every((r) => (r.data as { jobId: string }).jobId === r.id)).toBe(true);
      expect((await queue.get("100%:done"))?.id).toBe("100%:done");
    });

    it.skipIf(!f)("makes one job of an id added twice, also after it completed", async () => {
      const queue = await open();
      await queue.add([
        { name: "dup", jobId: "dup", data: { v: 1 } },
        { name: "dup", jobId: "dup", data: { v: 2 } },
      ]);
      await queue.add([{ name: "dup", jobId: "dup", data: { v: 3 } }]);
      expect((await queue.counts()).waiting).toBe(1);

      const { handler, of } = recorder();
      await processWith(queue, handler);
      await waitFor(async () => (await stateOf(queue, "dup")) === "completed");
      // Added again once finished, then a marker behind it: when the marker has run, the
      // duplicate would have run before it.
      await queue.add([{ name: "dup", jobId: "dup", data: { v: 4 } }]);
      await queue.add([{ name: "marker", jobId: "marker", data: {} }]);
      await waitFor(async () => (await stateOf(queue, "marker")) === "completed");

      expect(of("dup")).toHaveLength(1);
      expect(of("dup")[0]?.data).toEqual({ v: 1 });
      expect((await queue.get("dup"))?.data).toEqual({ v: 1 });
      expect((await queue.counts()).completed).toBe(2);
    });

    it.skipIf(!f)("retries a failing job with backoff until an attempt succeeds", async () => {
      const queue = await open();
      await queue.add([{ name: "flaky", jobId: "flaky", data: {}, attempts: 4, backoffMs: 20 }]);
      const { handler, of } = recorder((run) => {
        if (run.attempt < 3) throw new Error(`not yet (${run.attempt})`);
        return "finally";
      });
      await processWith(queue, handler);
      await waitFor(async () => (await stateOf(queue, "flaky")) === "completed");
      expect(of("flaky").map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(of("flaky").every((r) => r.maxAttempts === 4)).toBe(true);
      const view = await queue.get("flaky");
      expect(view?.attemptsMade).toBe(3);
      expect(view?.result).toBe("finally");
    });

    it.skipIf(!f)("holds a failed attempt's job, delayed, for its backoff", async () => {
      const queue = await open();
      await queue.add([
        { name: "slow.retry", jobId: "slow-retry", data: {}, attempts: 3, backoffMs: 60_000 },
      ]);
      const { handler, of } = recorder(() => {
        throw new Error("try again");
      });
      await processWith(queue, handler);
      const view = await waitFor(async () => {
        const job = await queue.get("slow-retry");
        return job?.state === "delayed" ? job : undefined;
      });
      expect(view.attemptsMade).toBe(1);
      expect(view.runAt?.getTime()).toBeGreaterThan(Date.now() + 30_000);
      expect(of("slow-retry")).toHaveLength(1);
      expect((await queue.counts()).delayed).toBe(1);
    });

    it.skipIf(!f)("fails a job after its attempts, lists it, and retry runs it again", async () => {
      const queue = await open();
      await queue.add([{ name: "broken", jobId: "broken", data: {}, attempts: 2, backoffMs: 10 }]);
      let broken = true;
      const { handler, of } = recorder((run) => {
        if (broken) throw new Error(`boom ${run.attempt}`);
        return "fixed";
      });
      await processWith(queue, handler);
      await waitFor(async () => (await stateOf(queue, "broken")) === "failed");

      expect(of("broken").map((r) => r.attempt)).toEqual([1, 2]);
      const failed = await queue.get("broken");
      expect(failed).toMatchObject({ state: "failed", attemptsMade: 2, failedReason: "boom 2" });
      expect((await queue.list("failed", 10)).map((j) => j.id)).toEqual(["broken"]);
      expect((await queue.counts()).failed).toBe(1);

      broken = false;
      expect(await queue.retry("broken")).toBe(true);
      await waitFor(async () => (await stateOf(queue, "broken")) === "completed");
      // Attempts start over.
      expect(of("broken").map((r) => r.attempt)).toEqual([1, 2, 1]);
      expect((await queue.get("broken"))?.result).toBe("fixed");
      expect(await queue.retry("broken")).toBe(false);
      expect(await queue.retry("no-such-job")).toBe(false);
    });

    it.skipIf(!f)("retry with data runs the job again with that payload", async () => {
      const queue = await open();
      await queue.add([
        { name: "mail", jobId: "typo", data: { to: "a@exmaple.com" }, attempts: 1 },
      ]);
      const { handler, of } = recorder((run) => {
        const { to } = run.data as { to: string };
        if (to.endsWith("@exmaple.com")) throw new PermanentJobError("550 no such domain");
        return `sent to ${to}`;
      });
      await processWith(queue, handler);
      await waitFor(async () => (await stateOf(queue, "typo")) === "failed");

      expect(await queue.retry("typo", { data: { to: "a@example.com" } })).toBe(true);
      await waitFor(async () => (await stateOf(queue, "typo")) === "completed");
      expect(of("typo").map((r) => r.data)).toEqual([
        { to: "a@exmaple.com" },
        { to: "a@example.com" },
      ]);
      expect(of("typo")[1]?.attempt).toBe(1);
      expect(await queue.get("typo")).toMatchObject({
        data: { to: "a@example.com" },
        result: "sent to a@example.com",
      });
      // Not failed: neither retried nor edited.
      expect(await queue.retry("typo", { data: { to: "b@example.com" } })).toBe(false);
      expect((await queue.get("typo"))?.data).toEqual({ to: "a@example.com" });
      expect(await queue.retry("no-such-job", { data: {} })).toBe(false);
    });

    it.skipIf(!f)("removes waiting, delayed, completed and failed jobs", async () => {
      const queue = await open();
      await queue.add([
        { name: "w", jobId: "waiting", data: {} },
        { name: "d", jobId: "delayed", data: {}, delayMs: 60_000 },
      ]);
      expect(await queue.remove("waiting")).toBe(true);
      expect(await queue.remove("delayed")).toBe(true);
      expect(await queue.get("waiting")).toBeUndefined();
      expect(await queue.get("delayed")).toBeUndefined();
      expect((await queue.counts()).waiting).toBe(0);
      expect((await queue.counts()).delayed).toBe(0);
      expect(await queue.list("delayed", 10)).toEqual([]);

      await queue.add([
        { name: "ok", jobId: "done", data: {} },
        { name: "bad", jobId: "broken", data: {}, attempts: 1 },
      ]);
      const { handler, of } = recorder((run) => {
        if (run.name === "bad") throw new Error("boom");
      });
      await processWith(queue, handler);
      await waitFor(async () => {
        const c = await queue.counts();
        return c.completed === 1 && c.failed === 1;
      });
      expect(await queue.remove("done")).toBe(true);
      expect(await queue.remove("broken")).toBe(true);
      expect(await queue.get("done")).toBeUndefined();
      expect(await queue.get("broken")).toBeUndefined();
      expect(await queue.list("failed", 10)).toEqual([]);
      expect(await queue.counts()).toEqual({
        waiting: 0,
        delayed: 0,
        active: 0,
        completed: 0,
        failed: 0,
      });
      expect(await queue.retry("broken")).toBe(false);
      expect(await queue.remove("broken")).toBe(false);
      expect(await queue.remove("no-such-job")).toBe(false);
      // The removed waiting and delayed jobs never ran.
      expect([...of("waiting"), ...of("delayed")]).toHaveLength(0);
    });

    it.skipIf(!f)("does not remove a running job", async () => {
      const queue = await open();
      await queue.add([{ name: "slow", jobId: "running", data: {} }]);
      const started = deferred();
      const release = deferred();
      const { handler } = recorder(async () => {
        started.resolve();
        await release.promise;
        return "finished";
      });
      await processWith(queue, handler);
      await started.promise;
      await waitFor(async () => (await stateOf(queue, "running")) === "active");

      expect(await queue.remove("running")).toBe(false);
      expect(await stateOf(queue, "running")).toBe("active");
      release.resolve();
      await waitFor(async () => (await stateOf(queue, "running")) === "completed");
      expect((await queue.get("running"))?.result).toBe("finished");
    });

    it.skipIf(!f)("fails at once on PermanentJobError, whatever attempts remain", async () => {
      const queue = await open();
      await queue.add([{ name: "mail", jobId: "bounce", data: {}, attempts: 5, backoffMs: 10 }]);
      const { handler, of } = recorder(() => {
        throw new PermanentJobError("550 mailbox unavailable");
      });
      await processWith(queue, handler);
      await waitFor(async () => (await stateOf(queue, "bounce")) === "failed");
      expect(of("bounce")).toHaveLength(1);
      expect(await queue.get("bounce")).toMatchObject({
        attemptsMade: 1,
        failedReason: "550 mailbox unavailable",
      });
    });

    it.skipIf(!f)("holds a job with delayMs until its time", async () => {
      const queue = await open();
      await queue.add([
        { name: "later", jobId: "later", data: {}, delayMs: 60_000 },
        { name: "soon", jobId: "soon", data: {}, delayMs: 200 },
        { name: "now", jobId: "now", data: {} },
      ]);
      const delayed = await queue.get("later");
      expect(delayed?.state).toBe("delayed");
      expect(delayed?.runAt?.getTime()).toBeGreaterThan(Date.now() + 30_000);
      const { handler, of } = recorder();
      await processWith(queue, handler, 2);
      await waitFor(async () => (await queue.counts()).completed === 2, { what: "now and soon" });
      expect(of("later")).toHaveLength(0);
      expect(await stateOf(queue, "later")).toBe("delayed");
      expect((await queue.list("delayed", 10)).map((j) => j.id)).toEqual(["later"]);
    });

    it.skipIf(!f)("runs waiting jobs by priority, lower numbers first", async () => {
      const queue = await open();
      await queue.add([
        { name: "p", jobId: "p9", data: {}, priority: 9 },
        { name: "p", jobId: "p0", data: {}, priority: 0 },
        { name: "p", jobId: "p5", data: {}, priority: 5 },
        { name: "p", jobId: "p3", data: {}, priority: 3 },
        { name: "p", jobId: "p5-default", data: {} },
      ]);
      expect((await queue.get("p3"))?.priority).toBe(3);
      const { runs, handler } = recorder();
      await processWith(queue, handler, 1);
      await waitFor(() => runs.length === 5, { what: "five runs" });
      expect(runs.map((r) => r.id)).toEqual(["p0", "p3", "p5", "p5-default", "p9"]);
    });

    it.skipIf(!f)("counts and lists jobs by state", async () => {
      const queue = await open();
      await queue.add([
        { name: "ok", jobId: "ok", data: {}, priority: 0 },
        { name: "bad", jobId: "bad", data: {}, priority: 1 },
        { name: "held", jobId: "held", data: {}, priority: 2 },
        { name: "later", jobId: "later", data: {}, delayMs: 60_000 },
      ]);
      expect(await queue.counts()).toEqual({
        waiting: 3,
        delayed: 1,
        active: 0,
        completed: 0,
        failed: 0,
      });
      expect((await queue.list("waiting", 10)).map((j) => j.id).sort()).toEqual([
        "bad",
        "held",
        "ok",
      ]);
      const release = deferred();
      const { handler } = recorder(async (run) => {
        if (run.name === "bad") throw new PermanentJobError("bad");
        if (run.name === "held") await release.promise;
      });
      const processor = await processWith(queue, handler, 1);
      await waitFor(async () => {
        const c = await queue.counts();
        return c.active === 1 && c.completed === 1 && c.failed === 1 && c.waiting === 0;
      });
      expect(await queue.counts()).toEqual({
        waiting: 0,
        delayed: 1,
        active: 1,
        completed: 1,
        failed: 1,
      });
      expect(processor.running).toBe(1);
      expect((await queue.list("active", 10)).map((j) => j.id)).toEqual(["held"]);
      release.resolve();
      await waitFor(async () => (await queue.counts()).completed === 2);
      expect((await queue.counts()).active).toBe(0);
      expect(processor.running).toBe(0);
    });

    it.skipIf(!f)("close() lets running jobs finish and takes no new ones", async () => {
      const queue = await open();
      await queue.add([{ name: "slow", jobId: "slow", data: {} }]);
      const started = deferred();
      const release = deferred();
      const { handler, of } = recorder(async (run) => {
        if (run.id !== "slow") return;
        started.resolve();
        await release.promise;
        return "finished";
      });
      const processor = await queue.process(handler, { concurrency: 1 });
      await started.promise;

      let closed = false;
      const closing = processor.close(30_000).then(() => {
        closed = true;
      });
      await queue.add([{ name: "late", jobId: "late", data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(closed).toBe(false);
      expect(processor.running).toBe(1);

      release.resolve();
      await closing;
      // Its outcome was recorded before close() returned.
      expect(await queue.get("slow")).toMatchObject({ state: "completed", result: "finished" });
      expect(of("late")).toHaveLength(0);
      expect(await stateOf(queue, "late")).toBe("waiting");
    });

    it.skipIf(!f)("runs a job again when its processor went away mid-run", async () => {
      if (!f) return;
      const name = f.newQueueName();
      const first = await openAgain(name);
      await first.add([{ name: "email.welcome", jobId: "orphan", data: { to: "a@example.com" } }]);
      const started = deferred();
      const never = deferred<unknown>();
      const gone = await first.process(
        async () => {
          started.resolve();
          return never.promise;
        },
        { concurrency: 1 },
      );
      await started.promise;
      await gone.close(50); // gives up on the running job: as good as a crash

      const second = await openAgain(name);
      const { handler, of } = recorder(() => "done by the second");
      await processWith(second, handler);
      await waitFor(async () => (await stateOf(second, "orphan")) === "completed", {
        what: "the orphaned job to run again",
      });
      expect(of("orphan")).toHaveLength(1);
      expect(of("orphan")[0]?.data).toEqual({ to: "a@example.com" });
      // The first run finishing late changes nothing.
      never.resolve("late result");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await second.get("orphan")).toMatchObject({
        state: "completed",
        result: "done by the second",
      });
    });

    it.skipIf(!f)(
      "reports jobs' changes to a watcher in another process, until it stops",
      async () => {
        if (!f) return;
        const queue = await open();
        // The watcher is another instance on the queue: another process, as the API is.
        const watcher = await openAgain(queue.name);
        const changes: JobChange[] = [];
        const stop = await watcher.watch((change) => changes.push(change));
        const of = (id: string) => changes.filter((c) => c.id === id);

        await queue.add([
          { name: "mail.ok", jobId: "ok:1", data: {} },
          { name: "mail.bad", jobId: "bad", data: {}, attempts: 2, backoffMs: 10 },
        ]);
        const { handler } = recorder((run) => {
          if (run.name === "mail.bad") throw new Error(`refused ${run.attempt}`);
          return "sent";
        });
        await processWith(queue, handler);
        await waitFor(
          () => of("ok:1").at(-1)?.state === "completed" && of("bad").at(-1)?.state === "failed",
          {
            what: "completed and failed changes",
          },
        );

        expect(of("ok:1")).toEqual([
          { queue: queue.name, id: "ok:1", name: "mail.ok", state: "waiting", attempts: 0 },
          { queue: queue.name, id: "ok:1", name: "mail.ok", state: "active", attempts: 1 },
          { queue: queue.name, id: "ok:1", name: "mail.ok", state: "completed", attempts: 1 },
        ]);
        const bad = of("bad").map((c) => c.state);
        // A failed attempt waits its backoff (delayed); on Redis, BullMQ also reports it due
        // again (waiting) before it runs.
        expect(bad.slice(0, 3)).toEqual(["waiting", "active", "delayed"]);
        expect(bad.slice(-2)).toEqual(["active", "failed"]);
        expect(of("bad").at(-1)).toEqual({
          queue: queue.name,
          id: "bad",
          name: "mail.bad",
          state: "failed",
          attempts: 2,
          failedReason: "refused 2",
        });
        expect(changes.every((c) => c.failedReason === undefined || c.state === "failed")).toBe(
          true,
        );

        // A duplicate id is no change; a stopped watcher hears nothing more.
        await queue.add([{ name: "mail.ok", jobId: "ok:1", data: {} }]);
        await stop();
        const heard = changes.length;
        await queue.add([{ name: "mail.late", jobId: "late", data: {} }]);
        await waitFor(async () => (await stateOf(queue, "late")) === "completed");
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(changes).toHaveLength(heard);
        expect(of("ok:1")).toHaveLength(3);
      },
    );

    it.skipIf(!f)("reports a large batch and a long failure reason, cut short", async () => {
      const queue = await open();
      const changes: JobChange[] = [];
      const stop = await queue.watch((change) => changes.push(change));
      // Far more than one NOTIFY payload (8 kB) can carry.
      const ids = Array.from({ length: 300 }, (_, n) => `${"long-id-".repeat(25)}${n}`);
      await queue.add(ids.map((jobId) => ({ name: "bulk", jobId, data: {}, delayMs: 60_000 })));
      await queue.add([{ name: "verbose", jobId: "verbose", data: {}, attempts: 1 }]);
      await processWith(queue, async () => {
        throw new Error(`${"é".repeat(5_000)} and more`);
      });
      await waitFor(() => changes.some((c) => c.id === "verbose" && c.state === "failed"), {
        what: "the verbose job's failure",
      });
      const delayed = new Set(changes.filter((c) => c.state === "delayed").map((c) => c.id));
      expect(ids.filter((id) => !delayed.has(id))).toEqual([]);
      const failed = changes.find((c) => c.id === "verbose" && c.state === "failed");
      expect(failed?.failedReason).toBe("é".repeat(MAX_CHANGE_REASON_LENGTH));
      await stop();
    });

    it.skipIf(!f)("answers ping", async () => {
      const queue = await open();
      await expect(queue.ping()).resolves.toBeUndefined();
    });
  });
}
