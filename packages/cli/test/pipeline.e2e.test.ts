import { getPriority } from "node:os";
import {
  killAllRoles,
  type RoleProcess,
  signUp,
  startRole,
  type TaskInput,
  waitFor,
} from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALL_ZERO,
  counterRows,
  openRealEngines,
  type RealEngines,
  realEnginesAvailable,
  sqlCountsByStatus,
} from "./e2e-fixture.ts";

/**
 * The production shape: api, relay and worker as three OS processes on PostgreSQL and
 * RabbitMQ, driven only through HTTP, and checked against the engines themselves.
 */
const available = await realEnginesAvailable();
/** The relay's nice value here: a little above this runner's, which may be niced itself. */
const relayNice = Math.min(19, getPriority() + 2);

describe.skipIf(!available)("TaskFlow as three processes on PostgreSQL and RabbitMQ", () => {
  let engines: RealEngines;
  let api: RoleProcess;
  let relay: RoleProcess;
  let worker: RoleProcess;

  beforeAll(async () => {
    engines = await openRealEngines("pipeline");
    [api, relay, worker] = await Promise.all([
      startRole("api", engines.env),
      // A background role yielding the CPU to the API, as deploy/compose runs it (a small
      // step: the other test files' processes share these cores).
      startRole("relay", { ...engines.env, TASKFLOW_NICE: String(relayNice) }),
      startRole("worker", { ...engines.env, TASKFLOW_RETRY_BASE_MS: "50" }),
    ]);
  }, 90_000);

  afterAll(async () => {
    await killAllRoles();
    await engines?.cleanup();
  }, 30_000);

  it("when TASKFLOW_NICE is set, then that role runs at that CPU priority and the others as started", () => {
    expect(getPriority(relay.pid)).toBe(relayNice);
    expect(getPriority(worker.pid)).toBe(getPriority(process.pid));
    expect(getPriority(api.pid)).toBe(getPriority(process.pid));
  });

  it("when a task fails more often than its max_attempts allow, then it ends FAILED after exactly two attempts and its message is in the dead-letter queue", async () => {
    const { client } = await signUp(api.url);
    const events = await client.openEvents();
    const task = await client.createTask({
      type: "fail",
      title: "doomed",
      payload: { times: 5 },
      max_attempts: 2,
    });

    const ended = await waitFor(
      async () => {
        const t = await client.getTask(task.id);
        return t.status === "FAILED" ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: "the task to end FAILED" },
    );
    expect(ended.attempts).toBe(2);
    expect(ended.max_attempts).toBe(2);
    expect(ended.last_error).toMatch(/failing on purpose \(attempt 2 /);
    expect(ended.finished_at).not.toBeNull();
    expect(await client.stats()).toEqual({ ...ALL_ZERO, FAILED: 1 });

    await waitFor(async () => (await engines.messageCount(`${engines.queue}.dead`)) >= 1, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: "a message in the dead-letter queue",
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await engines.messageCount(`${engines.queue}.dead`)).toBe(1);

    // Watched live, it went through every state once, in order.
    await waitFor(() => events.events.length >= 5, { what: "five task.updated events" });
    await events.close();
    expect(events.events.map((e) => e.id)).toEqual(Array(5).fill(task.id));
    expect(events.events.map((e) => e.status)).toEqual([
      "PENDING",
      "PROCESSING",
      "RETRYING",
      "PROCESSING",
      "FAILED",
    ]);
  }, 60_000);

  it("when a user submits 1,000 tasks, then every one runs exactly once: DONE in SQL, in the counters and on the live stream, with nothing left in the outbox or the queue", async () => {
    const N = 1_000;
    const { client, userId } = await signUp(api.url);
    const stream = await client.openEvents();

    const inputs: TaskInput[] = Array.from({ length: N }, (_, i) =>
      i % 10 === 0
        ? { type: "echo", title: `echo ${i}`, payload: { i } }
        : { type: "sleep", title: `nap ${i}`, payload: { ms: 0 } },
    );
    const ids = await client.createTasks(inputs, 16);
    expect(new Set(ids).size).toBe(N);

    const stats = await waitFor(
      async () => {
        const s = await client.stats();
        return s.DONE === N ? s : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: `${N} tasks DONE in /api/tasks/stats` },
    );
    expect(stats).toEqual({ ...ALL_ZERO, DONE: N });

    // SQL agrees with the counters, and nothing ran twice.
    expect(await sqlCountsByStatus(engines.sql, userId)).toEqual({ DONE: N });
    expect(await counterRows(engines.sql, userId)).toEqual({ DONE: N });
    const { rows: attempts } = await engines.sql.query<{ attempts: number; n: number }>(
      "SELECT attempts, count(*)::int AS n FROM tasks WHERE owner_id = $1 GROUP BY attempts",
      [userId],
    );
    expect(attempts).toEqual([{ attempts: 1, n: N }]);

    // A sample through the API: each one DONE with its handler's result.
    for (const i of [0, 1, 2, 10, 499, 500, 990, 998, 999]) {
      const task = await client.getTask(ids[i] as string);
      expect(task.status).toBe("DONE");
      expect(task.attempts).toBe(1);
      expect(task.result).toEqual(i % 10 === 0 ? { i } : { slept_ms: 0 });
      expect(task.last_error).toBeNull();
    }

    // The live stream: exactly one DONE per task, none missing, none twice, no strangers.
    await waitFor(() => stream.countBy("DONE").size === N, {
      timeoutMs: 15_000,
      what: `${N} distinct DONE events`,
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // room for a late duplicate
    await stream.close();
    const done = stream.countBy("DONE");
    expect([...done.keys()].sort()).toEqual([...ids].sort());
    expect([...done.values()].filter((n) => n !== 1)).toEqual([]);
    expect(stream.malformed).toEqual([]);
    const sequences = new Map<string, string[]>();
    for (const e of stream.events) sequences.set(e.id, [...(sequences.get(e.id) ?? []), e.status]);
    const odd = [...sequences].filter(([, s]) => s.join() !== "PENDING,PROCESSING,DONE");
    expect(odd).toEqual([]);

    // The outbox is drained and every delivery was acknowledged.
    await waitFor(
      async () =>
        (await engines.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox")).rows[0]
          ?.n === 0,
      { timeoutMs: 10_000, what: "an empty outbox" },
    );
    await waitFor(async () => (await engines.messageCount(engines.queue)) === 0, {
      timeoutMs: 10_000,
      what: "an empty work queue",
    });
    // Unacknowledged deliveries would come back to the queue when their consumer goes away.
    const exit = await worker.stop("SIGTERM");
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await engines.messageCount(engines.queue)).toBe(0);
    expect(await engines.messageCount(`${engines.queue}.dead`)).toBe(1); // the first test's only
  }, 150_000);

  it("when the relay and then the api get SIGTERM, with a client still holding the live event stream, then the stream ends and each exits 0", async () => {
    const { client } = await signUp(api.url);
    const stream = await client.openEvents();
    let streamEnded = false;
    void stream.ended.then(() => {
      streamEnded = true;
    });

    expect.soft(await relay.stop("SIGTERM"), relay.output()).toEqual({ code: 0, signal: null });
    const exit = await api.stop("SIGTERM", 30_000);
    expect(exit, "SIGTERM with an open event stream must exit 0, not time out").toEqual({
      code: 0,
      signal: null,
    });
    await stream.ended;
    expect(streamEnded).toBe(true);
  }, 60_000);
});
