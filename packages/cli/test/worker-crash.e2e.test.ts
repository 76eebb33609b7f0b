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
 * Workers die. A SIGKILLed worker's tasks must be taken over by another (none lost, none
 * done twice); a SIGTERMed worker must finish what it holds and hand nothing back.
 */
const available = await realEnginesAvailable();

describe.skipIf(!available)("workers that stop while they hold tasks", () => {
  let engines: RealEngines;
  let api: RoleProcess;
  const workers: RoleProcess[] = [];
  const startWorker = async (extra: Record<string, string> = {}) => {
    const worker = await startRole("worker", {
      ...engines.env,
      TASKFLOW_WORKER_CONCURRENCY: "100",
      TASKFLOW_SHUTDOWN_TIMEOUT_MS: "10000",
      ...extra,
    });
    workers.push(worker);
    return worker;
  };
  const attemptsById = async (ownerId: string) => {
    const { rows } = await engines.sql.query<{ id: string; attempts: number }>(
      "SELECT id, attempts FROM tasks WHERE owner_id = $1",
      [ownerId],
    );
    return new Map(rows.map((r) => [r.id, r.attempts]));
  };

  beforeAll(async () => {
    engines = await openRealEngines("crash");
    [api] = await Promise.all([startRole("api", engines.env), startRole("relay", engines.env)]);
  }, 90_000);

  afterAll(async () => {
    await killAllRoles();
    await engines?.cleanup();
  }, 30_000);

  it("when a worker is SIGKILLed while it holds tasks, then another worker takes them over: none lost, none done twice, and the interrupted ones show a second attempt", async () => {
    const SLOW = 40;
    const FAST = 20;
    const N = SLOW + FAST;
    const { client, userId } = await signUp(api.url);
    const stream = await client.openEvents();
    const workerA = await startWorker();

    const inputs: TaskInput[] = [
      ...Array.from({ length: SLOW }, (_, i) => ({
        type: "sleep",
        title: `slow ${i}`,
        payload: { ms: 2_000 },
      })),
      ...Array.from({ length: FAST }, (_, i) => ({
        type: "sleep",
        title: `fast ${i}`,
        payload: { ms: 0 },
      })),
    ];
    const ids = await client.createTasks(inputs, 16);
    await waitFor(async () => (await client.stats()).PROCESSING > 0, {
      timeoutMs: 20_000,
      what: "worker A to hold PROCESSING tasks",
    });

    expect(await workerA.kill()).toEqual({ code: null, signal: "SIGKILL" });
    // With A dead and no other worker, what is PROCESSING now is exactly what A died holding.
    const { rows: held } = await engines.sql.query<{ id: string; attempts: number }>(
      "SELECT id, attempts FROM tasks WHERE owner_id = $1 AND status = 'PROCESSING'",
      [userId],
    );
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((t) => t.attempts === 1)).toBe(true);
    const heldIds = new Set(held.map((t) => t.id));
    console.info(`worker A died holding ${held.length} PROCESSING tasks of ${N}`);

    const workerB = await startWorker();
    const stats = await waitFor(
      async () => {
        const s = await client.stats();
        return s.DONE === N ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `all ${N} tasks DONE after the takeover` },
    );
    expect(stats).toEqual({ ...ALL_ZERO, DONE: N });
    expect(await sqlCountsByStatus(engines.sql, userId)).toEqual({ DONE: N });
    expect(await counterRows(engines.sql, userId)).toEqual({ DONE: N });

    // The interrupted tasks ran a second time (attempt 2); every other task ran once.
    const attempts = await attemptsById(userId);
    const wrong = ids
      .map((id) => ({ id, attempts: attempts.get(id), expected: heldIds.has(id) ? 2 : 1 }))
      .filter((t) => t.attempts !== t.expected);
    expect(wrong).toEqual([]);

    // Exactly one DONE per task on the live stream.
    await waitFor(() => stream.countBy("DONE").size === N, {
      timeoutMs: 15_000,
      what: `${N} distinct DONE events`,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await stream.close();
    const done = stream.countBy("DONE");
    expect([...done.keys()].sort()).toEqual([...ids].sort());
    expect([...done.values()].filter((n) => n !== 1)).toEqual([]);

    await waitFor(async () => (await engines.messageCount(engines.queue)) === 0, {
      timeoutMs: 10_000,
      what: "an empty work queue",
    });
    expect(await workerB.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(await engines.messageCount(engines.queue)).toBe(0);
    expect(await engines.messageCount(`${engines.queue}.dead`)).toBe(0);
  }, 120_000);

  it("when a worker gets SIGTERM while it runs tasks, then it finishes them itself (attempt 1, DONE), hands nothing back, and exits 0", async () => {
    // No other worker may finish them for it.
    await Promise.all(workers.map((w) => w.kill()));
    const N = 20;
    const { client, userId } = await signUp(api.url);
    const stream = await client.openEvents();
    const worker = await startWorker();

    const ids = await client.createTasks(
      Array.from({ length: N }, (_, i) => ({
        type: "sleep",
        title: `in flight ${i}`,
        payload: { ms: 1_000 },
      })),
      16,
    );
    await waitFor(async () => (await client.stats()).PROCESSING === N, {
      timeoutMs: 20_000,
      intervalMs: 20,
      what: `all ${N} tasks PROCESSING`,
    });

    // Exit code 0 also means it stopped within TASKFLOW_SHUTDOWN_TIMEOUT_MS (else it exits 1).
    const exit = await worker.stop("SIGTERM", 30_000);
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });

    // With the worker gone and none other running, whatever is DONE, it did.
    expect(await sqlCountsByStatus(engines.sql, userId)).toEqual({ DONE: N });
    expect(await client.stats()).toEqual({ ...ALL_ZERO, DONE: N });
    const attempts = await attemptsById(userId);
    expect(ids.filter((id) => attempts.get(id) !== 1)).toEqual([]);
    expect(await engines.messageCount(engines.queue)).toBe(0);

    await waitFor(() => stream.countBy("DONE").size === N, {
      timeoutMs: 10_000,
      what: `${N} distinct DONE events`,
    });
    await stream.close();
    expect([...stream.countBy("DONE").values()].filter((n) => n !== 1)).toEqual([]);
  }, 90_000);
});
