import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createDatabase, sql } from "@taskflow/db";
import {
  ApiClient,
  type ChildEnv,
  killAllRoles,
  signUp,
  startRole,
  type TaskEventStream,
  type TaskInput,
  uniqueName,
  waitFor,
} from "@taskflow/testing";
import { afterAll, describe, expect, it } from "vitest";
import { ALL_ZERO } from "./e2e-fixture.ts";

/**
 * `taskflow start` with nothing installed: every role in one process, on PGlite and the
 * database-backed queue, its state in TASKFLOW_DATA_DIR. What it accepted must survive a
 * clean stop and a crash.
 */
const folders: string[] = [];
function embeddedEnv(): { env: ChildEnv; dataDir: string } {
  const dataDir = mkdtempSync(path.join(tmpdir(), "taskflow-e2e-"));
  folders.push(dataDir);
  return {
    dataDir,
    env: {
      TASKFLOW_DATA_DIR: dataDir,
      TASKFLOW_TASK_QUEUE: uniqueName("e2e.embedded"),
      TASKFLOW_LOG_LEVEL: "warn",
      TASKFLOW_LOGIN_RATE_LIMIT: "1000",
    },
  };
}
// PGlite and every role in one process: on two busy cores the start can take a minute.
const START = { readyTimeoutMs: 150_000 };

/** DONE events per task id over one or more streams. */
function doneEvents(streams: TaskEventStream[], ids: string[]) {
  const counts = new Map<string, number>();
  for (const s of streams) {
    for (const [id, n] of s.countBy("DONE")) counts.set(id, (counts.get(id) ?? 0) + n);
  }
  return {
    missing: ids.filter((id) => !counts.has(id)),
    twice: [...counts].filter(([, n]) => n > 1),
    strangers: [...counts.keys()].filter((id) => !ids.includes(id)),
  };
}

/** Opens a stopped system's data folder and reads what it left behind. */
async function inspectDataFolder(dataDir: string) {
  const database = await createDatabase({ dataDir });
  try {
    const count = async (table: string) =>
      (
        await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(
          database.db,
        )
      ).rows[0]?.n;
    const byStatus = await sql<{ status: string; attempts: number; n: number }>`
      SELECT status, attempts, count(*)::int AS n FROM tasks GROUP BY status, attempts ORDER BY 1, 2
    `.execute(database.db);
    const counters = await sql<{ status: string; n: number }>`
      SELECT status, sum(count)::int AS n FROM task_counts GROUP BY status HAVING sum(count) <> 0
    `.execute(database.db);
    return {
      tasks: byStatus.rows,
      counters: Object.fromEntries(counters.rows.map((r) => [r.status, r.n])),
      queued: await count("queue_messages"),
      deadLetters: await count("queue_dead_letters"),
      outbox: await count("outbox"),
    };
  } finally {
    await database.close();
  }
}

describe("taskflow start on embedded engines", () => {
  afterAll(async () => {
    await killAllRoles();
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("when 1,000 tasks are submitted, then each is DONE exactly once; after SIGTERM and a restart on the same folder the user and the tasks are still there", async () => {
    const N = 1_000;
    const { env, dataDir } = embeddedEnv();
    const first = await startRole("start", env, START);
    const { client, credentials } = await signUp(first.url);
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
      { timeoutMs: 90_000, intervalMs: 250, what: `${N} tasks DONE` },
    );
    expect(stats).toEqual({ ...ALL_ZERO, DONE: N });
    // Registration asked for a welcome email: the embedded mail sink caught exactly one.
    const inbox = await waitFor(
      async () => {
        const answer = await client.request<{ items: { to: string; subject: string }[] }>(
          "GET",
          "/api/dev/mail",
        );
        const mine = answer.body.items.filter((m) => m.to === credentials.email);
        return mine.length > 0 ? mine : undefined;
      },
      { what: "the welcome email in /api/dev/mail" },
    );
    expect(inbox).toHaveLength(1);
    expect(inbox[0]?.subject).toMatch(/welcome/i);
    await waitFor(() => stream.countBy("DONE").size === N, {
      timeoutMs: 15_000,
      what: `${N} distinct DONE events`,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(doneEvents([stream], ids)).toEqual({ missing: [], twice: [], strangers: [] });
    expect(stream.malformed).toEqual([]);

    // A clean stop while a client still holds the live event stream, as a browser would.
    const stopped = await first.stop("SIGTERM");
    expect(stopped, `SIGTERM with an open event stream must exit 0:\n${first.output()}`).toEqual({
      code: 0,
      signal: null,
    });
    await stream.close();

    const second = await startRole("start", env, START);
    const again = await new ApiClient(second.url).login(credentials);
    expect(await again.stats()).toEqual({ ...ALL_ZERO, DONE: N });
    for (const i of [0, 1, 500, 999]) {
      const task = await again.getTask(ids[i] as string);
      expect(task.status).toBe("DONE");
      expect(task.attempts).toBe(1);
      expect(task.result).toEqual(i % 10 === 0 ? { i } : { slept_ms: 0 });
    }
    expect(await second.stop("SIGTERM"), second.output()).toEqual({ code: 0, signal: null });

    // What the folder holds: every task DONE on its first attempt, counters to match, no
    // message left behind in the queue or the outbox.
    expect(await inspectDataFolder(dataDir)).toEqual({
      tasks: [{ status: "DONE", attempts: 1, n: N }],
      counters: { DONE: N },
      queued: 0,
      deadLetters: 0,
      outbox: 0,
    });
  }, 400_000);

  it("when the process is SIGKILLed while tasks are PROCESSING, then after a restart on the same folder they all end DONE, exactly once", async () => {
    const N = 10;
    const { env, dataDir } = embeddedEnv();
    const first = await startRole("start", env, START);
    const { client, credentials } = await signUp(first.url);
    const before = await client.openEvents();
    const ids = await client.createTasks(
      Array.from({ length: N }, (_, i) => ({
        type: "sleep",
        title: `interrupted ${i}`,
        payload: { ms: 1_500 },
      })),
      N,
    );
    await waitFor(async () => (await client.stats()).PROCESSING > 0, {
      timeoutMs: 20_000,
      intervalMs: 20,
      what: "PROCESSING tasks",
    });
    expect(await first.kill()).toEqual({ code: null, signal: "SIGKILL" });
    await before.close();

    const restartedAt = Date.now();
    const second = await startRole("start", env, START);
    const readyMs = Date.now() - restartedAt;
    const again = await new ApiClient(second.url).login(credentials);
    // The worker starts before the API, so some changes may happen before we can listen.
    const after = await again.openEvents();
    await waitFor(async () => (await again.stats()).DONE === N, {
      // Leases a crashed process held are released at start on PGlite; were they not, the
      // embedded queue's 30 s lease would have to run out first — this timeout allows that.
      timeoutMs: 75_000,
      intervalMs: 250,
      what: `all ${N} tasks DONE after the restart`,
    });
    const allDoneMs = Date.now() - restartedAt;
    console.info(
      `embedded crash recovery: ready ${readyMs} ms after the restart, all DONE after ${allDoneMs} ms`,
    );

    expect(await again.stats()).toEqual({ ...ALL_ZERO, DONE: N });
    const tasks = await Promise.all(ids.map((id) => again.getTask(id)));
    expect(tasks.map((t) => t.status)).toEqual(Array(N).fill("DONE"));
    expect(tasks.map((t) => t.result)).toEqual(Array(N).fill({ slept_ms: 1_500 }));
    // Those the dead process was running were taken over as their second attempt.
    expect(tasks.filter((t) => t.attempts !== 1 && t.attempts !== 2)).toEqual([]);
    expect(tasks.some((t) => t.attempts === 2)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seen = doneEvents([before, after], ids);
    expect({ twice: seen.twice, strangers: seen.strangers }).toEqual({ twice: [], strangers: [] });
    await after.close();
    expect(await second.stop("SIGTERM"), second.output()).toEqual({ code: 0, signal: null });

    const left = await inspectDataFolder(dataDir);
    expect(left.tasks.every((row) => row.status === "DONE")).toBe(true);
    expect(left.tasks.reduce((sum, row) => sum + row.n, 0)).toBe(N);
    expect({ ...left, tasks: undefined }).toEqual({
      tasks: undefined,
      counters: { DONE: N },
      queued: 0,
      deadLetters: 0,
      outbox: 0,
    });
  }, 400_000);
});
