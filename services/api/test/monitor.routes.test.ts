import { createHeartbeat, type Heartbeat } from "@taskflow/db";
import {
  type JobProcessor,
  type JobQueue,
  PermanentJobError,
  withJobHistory,
} from "@taskflow/messaging";
import { createLogger, createMetrics } from "@taskflow/observability";
import { createRelay, outboxPublishers, type Relay } from "@taskflow/relay";
import { createTaskRepository } from "@taskflow/tasks";
import { waitFor } from "@taskflow/testing";
import { createWorker, taskHandlers, type Worker } from "@taskflow/worker";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserRepository } from "../src/modules/users/user.repository.ts";
import { createAccount } from "../src/modules/users/user.service.ts";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

const stamp = `${process.pid}-${Date.now()}`;
// Mixed case on purpose: the admin list is compared lower-cased.
const ADMIN_EMAIL = `Ops-${stamp}@Example.com`;

let f: AppFixture | undefined;
let base = "";
beforeAll(async () => {
  f = await openAppFixture({ adminEmails: [ADMIN_EMAIL.toLowerCase()], embeddedQueues: true });
  if (f) base = await f.app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await stopPipeline();
  await jobProcessor?.close(2_000);
  await f?.close();
});

const fixture = () => {
  if (!f?.taskQueue || !f.jobQueue) throw new Error("PostgreSQL fixture unavailable");
  return { ...f, taskQueue: f.taskQueue, jobQueue: f.jobQueue };
};

let jobsWithHistory: JobQueue | undefined;
const historyErrors: Error[] = [];
/**
 * The fixture's job queue, recording its history, as the relay and the mailer use it; the
 * API's own queue (retry, purge) is the fixture's plain one, so those two are not recorded.
 */
const historyQueue = () => {
  const { jobQueue, database } = fixture();
  jobsWithHistory ??= withJobHistory(jobQueue, database.db, {
    onError: (error) => historyErrors.push(error),
  });
  return jobsWithHistory;
};

interface JobItem {
  id: string;
  name: string;
  state: string;
  data: unknown;
  removed_at?: string | null;
}

async function searchJobs(query: string) {
  const res = await call("GET", `/api/monitor/jobs?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: JobItem[]; next_cursor: string | null }>();
}

let adminAuth: Record<string, string> | undefined;
async function admin(): Promise<Record<string, string>> {
  if (adminAuth) return adminAuth;
  const { app } = fixture();
  const password = "correct horse battery";
  // An operator address cannot register over HTTP (nothing proves the caller owns it)…
  const refused = await app.inject({
    method: "POST",
    url: "/api/auth/register",
    payload: { email: ADMIN_EMAIL, password, name: "Ops" },
  });
  expect(refused.statusCode).toBe(403);
  expect(refused.headers["content-type"]).toMatch(/application\/problem\+json/);
  // …it is created the way `taskflow user create` does.
  await createAccount(createUserRepository(fixture().database.db), {
    email: ADMIN_EMAIL,
    password,
    name: "Ops",
  });
  const login = await app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { email: ADMIN_EMAIL, password },
  });
  adminAuth = { authorization: `Bearer ${login.json().access_token}` };
  return adminAuth;
}

async function call(
  method: "GET" | "POST" | "DELETE",
  url: string,
  options: { payload?: object; headers?: Record<string, string> } = {},
) {
  const headers = options.headers ?? (await admin());
  return fixture().app.inject({
    method,
    url,
    headers,
    ...(options.payload ? { payload: options.payload } : {}),
  });
}

async function submit(app: FastifyInstance, auth: Record<string, string>, payload: object) {
  const res = await app.inject({ method: "POST", url: "/api/tasks", headers: auth, payload });
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ id: string }>().id;
}

const silent = createLogger({ level: "silent", service: "monitor-test" });
let relay: Relay | undefined;
let worker: Worker | undefined;
let jobProcessor: JobProcessor | undefined;

/** The relay and a worker in this process, on the fixture's embedded queues. */
async function startPipeline() {
  const { database, taskQueue, jobQueue } = fixture();
  const metrics = createMetrics("monitor-test");
  relay = createRelay({
    database,
    publishers: outboxPublishers({ taskQueue, jobQueue }),
    logger: silent,
    metrics,
    pollMs: 100,
  });
  worker = createWorker({
    tasks: createTaskRepository(database.db),
    queue: taskQueue,
    handlers: taskHandlers,
    logger: silent,
    metrics,
    concurrency: 4,
    prefetch: 16,
    retry: { baseMs: 10, maxMs: 50 },
  });
  await relay.start();
  await worker.start();
}

async function stopPipeline() {
  await worker?.stop(2_000);
  await relay?.stop();
  worker = undefined;
  relay = undefined;
}

const taskStatus = async (id: string) => {
  const row = await fixture()
    .database.db.selectFrom("tasks")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row;
};

describe("access to /api/monitor", () => {
  const routes: [method: "GET" | "POST" | "DELETE", url: string, payload?: object][] = [
    ["GET", "/api/monitor/queues"],
    ["GET", "/api/monitor/workers"],
    ["GET", "/api/monitor/jobs?state=failed"],
    ["GET", "/api/monitor/tasks?type=echo"],
    ["GET", "/api/monitor/dead-letters"],
    ["POST", "/api/monitor/dead-letters/redrive", { source: "task-queue" }],
    ["POST", "/api/monitor/dead-letters/purge", { source: "task-queue" }],
    ["POST", "/api/monitor/tasks/0193a1b2-0000-7000-8000-000000000000/retry"],
    ["POST", "/api/monitor/tasks/0193a1b2-0000-7000-8000-000000000000/cancel"],
    ["POST", "/api/monitor/jobs/some-job/retry"],
    ["DELETE", "/api/monitor/jobs/some-job"],
    ["GET", "/api/monitor/audit"],
    ["GET", "/api/monitor/events"],
  ];

  it("answers 401 without credentials and 403 to a user who is not an operator", async () => {
    const user = await signUp(fixture().app);
    for (const [method, url, payload] of routes) {
      const anonymous = await call(method, url, { headers: {}, ...(payload ? { payload } : {}) });
      expect(anonymous.statusCode, `${method} ${url}`).toBe(401);
      // Even an invalid body is a 403: the check comes before validation.
      const denied = await call(method, url, { headers: user.auth, payload: payload ?? {} });
      expect(denied.statusCode, `${method} ${url}`).toBe(403);
      expect(denied.headers["content-type"]).toMatch(/^application\/problem\+json/);
    }
  });

  it("documents every monitor route in OpenAPI under the monitor tag", async () => {
    const doc = (await fixture().app.inject({ method: "GET", url: "/openapi.json" })).json();
    for (const path of [
      "/api/monitor/queues",
      "/api/monitor/workers",
      "/api/monitor/jobs",
      "/api/monitor/tasks",
      "/api/monitor/tasks/{id}/retry",
      "/api/monitor/tasks/{id}/cancel",
      "/api/monitor/jobs/{id}/retry",
      "/api/monitor/jobs/{id}",
      "/api/monitor/dead-letters",
      "/api/monitor/dead-letters/redrive",
      "/api/monitor/dead-letters/purge",
      "/api/monitor/audit",
      "/api/monitor/events",
    ]) {
      const operations = Object.values(doc.paths[path] ?? {}) as { tags?: string[] }[];
      expect(operations.length, path).toBeGreaterThan(0);
      for (const operation of operations) expect(operation.tags).toEqual(["monitor"]);
    }
  });
});

describe("GET /api/monitor/queues", () => {
  it("reports each engine's own numbers", async () => {
    const { jobQueue, taskQueue } = fixture();
    await jobQueue.add([
      { name: "report.build", jobId: `report-${stamp}-1`, data: { n: 1 } },
      { name: "report.build", jobId: `report-${stamp}-2`, data: { n: 2 } },
      { name: "report.build", jobId: `report-${stamp}-3`, data: { n: 3 }, delayMs: 60_000 },
    ]);
    const res = await call("GET", "/api/monitor/queues");
    expect(res.statusCode).toBe(200);
    const [tasks, jobs] = res.json();
    const [stats, counts] = [await taskQueue.stats(), await jobQueue.counts()];
    expect(tasks).toMatchObject({
      name: taskQueue.name,
      engine: "embedded",
      kind: "tasks",
      waiting: stats.waiting,
      consumers: stats.consumers,
      dead_lettered: stats.deadLettered,
      finished_last_minute: { DONE: expect.any(Number), FAILED: expect.any(Number) },
    });
    expect(jobs).toEqual({
      name: jobQueue.name,
      engine: "embedded",
      kind: "jobs",
      waiting: counts.waiting,
      delayed: counts.delayed,
      in_flight: counts.active,
      consumers: null,
      dead_lettered: counts.failed,
      completed: counts.completed,
      finished_last_minute: null,
    });
    expect(counts.waiting).toBeGreaterThanOrEqual(2);
    expect(counts.delayed).toBeGreaterThanOrEqual(1);
  });
});

describe("GET /api/monitor/workers", () => {
  it("shows a process online while it beats, offline once it stops beating, stopped after a clean exit", async () => {
    const { database } = fixture();
    let hung = false;
    const stats = { inFlight: 1, processed: 7, failed: 2 };
    const heartbeat: Heartbeat = createHeartbeat({
      db: database.db,
      role: "worker",
      concurrency: 4,
      intervalMs: 100,
      stats: () => {
        // A process that hangs writes no more beats.
        if (hung) throw new Error("hung");
        return stats;
      },
    });
    await heartbeat.start();
    const mine = async () =>
      (await call("GET", "/api/monitor/workers"))
        .json<{ id: string; status: string; online: boolean }[]>()
        .find((w) => w.id === heartbeat.id);
    expect(await mine()).toMatchObject({
      role: "worker",
      pid: process.pid,
      status: "online",
      online: true,
      concurrency: 4,
      in_flight: 1,
      processed: 7,
      failed: 2,
      heartbeat_interval_ms: 100,
    });
    hung = true;
    await waitFor(async () => (await mine())?.status === "offline", {
      what: "the silent process to go offline",
    });
    expect((await mine())?.online).toBe(false);
    hung = false;
    await heartbeat.stop();
    expect((await mine())?.status).toBe("stopped");
  });

  it("lists every process role, each with its own counters", async () => {
    const { database } = fixture();
    const roles = ["api", "relay", "scheduler", "alerts"];
    const beats = roles.map((role, n) =>
      createHeartbeat({
        db: database.db,
        role,
        concurrency: role === "api" ? 0 : 1,
        stats: () => ({ inFlight: 0, processed: n + 1, failed: 0 }),
      }),
    );
    for (const beat of beats) await beat.start();
    const listed = (await call("GET", "/api/monitor/workers"))
      .json<{ id: string; role: string; processed: number; status: string }[]>()
      .filter((w) => beats.some((b) => b.id === w.id));
    expect(listed.map((w) => [w.role, w.processed, w.status]).sort()).toEqual([
      ["alerts", 4, "online"],
      ["api", 1, "online"],
      ["relay", 2, "online"],
      ["scheduler", 3, "online"],
    ]);
    for (const beat of beats) await beat.stop();
  });
});

describe("GET /api/monitor/tasks", () => {
  it("searches every owner's tasks by type, status, time and text, page by page", async () => {
    const { app } = fixture();
    const [ada, bob] = [await signUp(app), await signUp(app, "Bob")];
    const marker = `needle-${stamp}`;
    const early = [
      await submit(app, ada.auth, { type: "echo", payload: { note: `${marker} one` } }),
      await submit(app, bob.auth, { type: "echo", payload: { note: `${marker} two` } }),
    ];
    await new Promise((resolve) => setTimeout(resolve, 20));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const late = [
      await submit(app, ada.auth, { type: "echo", payload: { note: `${marker.toUpperCase()} 3` } }),
      await submit(app, bob.auth, { type: "echo", payload: { note: `${marker} four` } }),
      await submit(app, bob.auth, { type: "echo", payload: { note: `${marker} five` } }),
    ];
    await submit(app, ada.auth, { type: "sleep", payload: { ms: 1 } });
    const all = [...early, ...late].reverse(); // newest first

    const search = async (query: string) => {
      const res = await call("GET", `/api/monitor/tasks?${query}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{
        items: { id: string; owner_id: string; type: string }[];
        next_cursor: string | null;
      }>();
    };
    const q = encodeURIComponent(marker);

    // Both owners' tasks, through pages of two; the case of the text does not matter.
    const seen: string[] = [];
    let cursor: string | null = "";
    let pages = 0;
    while (cursor !== null) {
      const page = await search(
        `type=echo&status=PENDING&q=${q}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...page.items.map((t) => t.id));
      cursor = page.next_cursor;
      pages++;
    }
    expect(seen).toEqual(all);
    expect(pages).toBe(3);
    expect(new Set((await search(`q=${q}`)).items.map((t) => t.owner_id))).toEqual(
      new Set([ada.id, bob.id]),
    );

    expect(
      (await search(`q=${q}&from=${encodeURIComponent(between)}`)).items.map((t) => t.id),
    ).toEqual([...late].reverse());
    expect(
      (await search(`q=${q}&to=${encodeURIComponent(between)}`)).items.map((t) => t.id),
    ).toEqual([...early].reverse());
    expect((await search(`q=${early[0]}`)).items.map((t) => t.id)).toEqual([early[0]]);
    expect((await search(`q=${q}&type=sleep`)).items).toEqual([]);
    expect((await search(`q=${q}&status=DONE`)).items).toEqual([]);

    expect((await call("GET", "/api/monitor/tasks?limit=101")).statusCode).toBe(422);
    expect((await call("GET", "/api/monitor/tasks?cursor=bm9wZQ")).statusCode).toBe(422);
    expect(
      (
        await call(
          "GET",
          `/api/monitor/tasks?from=${encodeURIComponent(between)}&to=${encodeURIComponent(between)}`,
        )
      ).statusCode,
    ).toBe(422);
  });
});

describe("GET /api/monitor/jobs", () => {
  it("searches the job history by state, name, time and id or data text, page by page", async () => {
    const jobs = historyQueue();
    const marker = `jobneedle-${stamp}`;
    const id = (n: number) => `search-${stamp}-${n}`;
    // One add each, so each has its own created_at: newest first is the reverse order.
    const add = async (n: number, name: string, extra: { delayMs?: number } = {}) =>
      jobs.add([{ name, jobId: id(n), data: { note: `${marker} ${n}` }, ...extra }]);
    await add(1, "report.search");
    await add(2, "report.search");
    await add(3, "report.search", { delayMs: 600_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await add(4, "report.search");
    await add(5, "report.search");
    await add(6, "report.search");
    await add(7, "report.other");
    const q = encodeURIComponent(marker);

    // Six of one name, through pages of two; the case of the text does not matter.
    const seen: string[] = [];
    let cursor: string | null = "";
    let pages = 0;
    while (cursor !== null) {
      const page = await searchJobs(
        `type=report.search&q=${encodeURIComponent(marker.toUpperCase())}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((job) => job.id));
      cursor = page.next_cursor;
      pages++;
    }
    expect(seen).toEqual([6, 5, 4, 3, 2, 1].map(id));
    expect(pages).toBe(3);

    expect((await searchJobs(`q=${q}`)).items.map((job) => job.id)).toEqual(
      [7, 6, 5, 4, 3, 2, 1].map(id),
    );
    expect((await searchJobs(`q=${q}&state=delayed`)).items).toEqual([
      expect.objectContaining({
        id: id(3),
        name: "report.search",
        state: "delayed",
        data: { note: `${marker} 3` },
        run_at: expect.any(String),
        removed_at: null,
      }),
    ]);
    expect((await searchJobs(`q=${q}&state=waiting&type=report.other`)).items).toHaveLength(1);
    expect((await searchJobs(`q=${q}&state=failed`)).items).toEqual([]);
    expect(
      (await searchJobs(`q=${q}&from=${encodeURIComponent(between)}`)).items.map((j) => j.id),
    ).toEqual([7, 6, 5, 4].map(id));
    expect(
      (await searchJobs(`q=${q}&to=${encodeURIComponent(between)}`)).items.map((j) => j.id),
    ).toEqual([3, 2, 1].map(id));
    // An id is found exactly, not as a part of another.
    expect((await searchJobs(`q=${id(1)}`)).items.map((job) => job.id)).toEqual([id(1)]);

    expect((await call("GET", "/api/monitor/jobs?limit=101")).statusCode).toBe(422);
    expect((await call("GET", "/api/monitor/jobs?cursor=bm9wZQ")).statusCode).toBe(422);
    expect((await call("GET", "/api/monitor/jobs?state=lost")).statusCode).toBe(422);
    expect(
      (
        await call(
          "GET",
          `/api/monitor/jobs?from=${encodeURIComponent(between)}&to=${encodeURIComponent(between)}`,
        )
      ).statusCode,
    ).toBe(422);
  });
});

describe("monitor actions", () => {
  it("retries a FAILED task: PENDING with a fresh outbox message, then it runs again", async () => {
    const { app, database, taskQueue } = fixture();
    const user = await signUp(app);
    await startPipeline();
    const id = await submit(app, user.auth, {
      type: "fail",
      payload: { times: 5 },
      max_attempts: 1,
    });
    await waitFor(async () => (await taskStatus(id))?.status === "FAILED", { what: "FAILED" });
    await waitFor(
      async () =>
        (await taskQueue.peekDeadLetters(100)).some(
          (m) => (m.body as { task_id?: string }).task_id === id,
        ),
      { what: "its dead letter" },
    );
    await stopPipeline();

    const retried = await call("POST", `/api/monitor/tasks/${id}/retry`);
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toMatchObject({
      id,
      owner_id: user.id,
      status: "PENDING",
      attempts: 0,
      finished_at: null,
      last_error: expect.stringContaining("failing on purpose"),
    });
    const outbox = await database.db
      .selectFrom("outbox")
      .selectAll()
      .where("message_key", "=", id)
      .where("destination", "=", "task-queue")
      .execute();
    expect(outbox.map((row) => row.payload)).toEqual([{ task_id: id, type: "fail", priority: 5 }]);
    // Its old dead letter is gone: the task moved on.
    expect(
      (await taskQueue.peekDeadLetters(100)).some(
        (m) => (m.body as { task_id?: string }).task_id === id,
      ),
    ).toBe(false);
    const stats = await app.inject({ method: "GET", url: "/api/tasks/stats", headers: user.auth });
    expect(stats.json()).toMatchObject({ PENDING: 1, FAILED: 0 });

    expect((await call("POST", `/api/monitor/tasks/${id}/retry`)).statusCode).toBe(409);
    expect(
      (await call("POST", "/api/monitor/tasks/0193a1b2-0000-7000-8000-000000000000/retry"))
        .statusCode,
    ).toBe(404);

    // It runs again (with the same payload it fails again, and is dead-lettered again).
    await startPipeline();
    await waitFor(
      async () => {
        const task = await taskStatus(id);
        return task?.status === "FAILED" && task.attempts === 1;
      },
      { what: "the second run to fail" },
    );
    await stopPipeline();
  });

  it("lists dead letters in one model, and redrives one with an edited payload to DONE", async () => {
    const { app, taskQueue } = fixture();
    const user = await signUp(app);
    await startPipeline();
    const id = await submit(app, user.auth, {
      type: "fail",
      payload: { times: 3 },
      max_attempts: 1,
    });
    await waitFor(
      async () =>
        (await taskQueue.peekDeadLetters(100)).some(
          (m) => (m.body as { task_id?: string }).task_id === id,
        ),
      { what: "its dead letter" },
    );
    const letters = await call("GET", "/api/monitor/dead-letters?source=task-queue");
    expect(letters.statusCode).toBe(200);
    const letter = letters.json<{ id: string }[]>().find((l) => l.id === id);
    expect(letter).toEqual({
      source: "task-queue",
      id,
      type: "fail",
      status: "FAILED",
      error: expect.stringContaining("failing on purpose"),
      payload: { times: 3 },
      failed_at: expect.any(String),
      message_ids: [expect.any(String)],
    });

    const invalid = await call("POST", "/api/monitor/dead-letters/redrive", {
      payload: { source: "task-queue", ids: [id], payload: { times: "never" } },
    });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json().errors[0].path).toBe("/payload/times");
    const twoIds = await call("POST", "/api/monitor/dead-letters/redrive", {
      payload: { source: "task-queue", ids: [id, letter?.id ?? ""], payload: { times: 0 } },
    });
    expect(twoIds.statusCode).toBe(422);

    const redrive = await call("POST", "/api/monitor/dead-letters/redrive", {
      payload: { source: "task-queue", ids: [id], payload: { times: 0 } },
    });
    expect(redrive.statusCode, redrive.body).toBe(200);
    expect(redrive.json()).toEqual({ redriven: 1, dead_letters_removed: 1 });
    const done = await waitFor(
      async () => {
        const task = await taskStatus(id);
        return task?.status === "DONE" ? task : undefined;
      },
      { what: "the redriven task to run to DONE" },
    );
    expect(done.payload).toEqual({ times: 0 });
    expect(done.result).toEqual({ failed_attempts: 0 });
    const after = await call("GET", "/api/monitor/dead-letters?source=task-queue");
    expect(after.json<{ id: string }[]>().some((l) => l.id === id)).toBe(false);
    await stopPipeline();
  });

  it("cancels anyone's PENDING task", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const id = await submit(app, user.auth, { type: "sleep", payload: { ms: 1 } });
    const cancelled = await call("POST", `/api/monitor/tasks/${id}/cancel`);
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ id, owner_id: user.id, status: "CANCELLED" });
    expect((await call("POST", `/api/monitor/tasks/${id}/cancel`)).statusCode).toBe(409);
    const mine = await app.inject({ method: "GET", url: `/api/tasks/${id}`, headers: user.auth });
    expect(mine.json().status).toBe("CANCELLED");
  });

  it("lists, retries, redrives with new data and purges failed jobs", async () => {
    const { jobQueue } = fixture();
    const jobs = historyQueue();
    // Jobs fail unless their data says ok; welcome emails (from sign-ups) just complete.
    jobProcessor = await jobs.process(
      async (job) => {
        if (job.name !== "report.flaky") return null;
        if ((job.data as { ok?: boolean }).ok) return "built";
        throw new PermanentJobError("report source missing");
      },
      { concurrency: 2 },
    );
    const ids = [`flaky-${stamp}-a`, `flaky-${stamp}-b`];
    await jobs.add(
      ids.map((jobId, i) => ({
        name: "report.flaky",
        jobId,
        data: { region: i === 0 ? "north" : "south" },
        attempts: 1,
      })),
    );
    const failedIds = async () =>
      (await jobQueue.list("failed", 100)).map((j) => j.id).filter((id) => ids.includes(id));
    await waitFor(async () => (await failedIds()).length === 2, { what: "two failed jobs" });
    // The history is written in the background, just after the engine's record.
    await waitFor(
      async () =>
        (await searchJobs("state=failed&type=report.flaky")).items.length === 2 || undefined,
      { what: "two failed jobs in the history" },
    );

    const listed = await call("GET", "/api/monitor/jobs?state=failed&type=report.flaky&q=NORTH");
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual({
      items: [
        expect.objectContaining({
          id: ids[0],
          name: "report.flaky",
          state: "failed",
          data: { region: "north" },
          failed_reason: expect.stringContaining("report source missing"),
        }),
      ],
      next_cursor: null,
    });
    const paged = await call("GET", "/api/monitor/jobs?state=failed&type=report.flaky&limit=1");
    expect(paged.json().next_cursor).toEqual(expect.any(String));
    const dead = await call("GET", "/api/monitor/dead-letters?source=job-queue");
    expect(dead.json()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: "job-queue", id: ids[0], type: "report.flaky" }),
      ]),
    );

    // A plain retry fails again (same data); a redrive with new data completes.
    const retried = await call("POST", `/api/monitor/jobs/${ids[0]}/retry`);
    expect(retried.statusCode, retried.body).toBe(200);
    await waitFor(async () => (await jobQueue.get(ids[0] ?? ""))?.state === "failed", {
      what: "the retried job to fail again",
    });
    const redrive = await call("POST", "/api/monitor/dead-letters/redrive", {
      payload: { source: "job-queue", ids: [ids[0]], payload: { region: "north", ok: true } },
    });
    expect(redrive.json()).toEqual({ redriven: 1, dead_letters_removed: 0 });
    await waitFor(async () => (await jobQueue.get(ids[0] ?? ""))?.state === "completed", {
      what: "the redriven job to complete",
    });
    expect((await call("POST", `/api/monitor/jobs/${ids[0]}/retry`)).statusCode).toBe(409);

    const purged = await call("DELETE", `/api/monitor/jobs/${ids[1]}`);
    expect(purged.statusCode).toBe(204);
    expect(await jobQueue.get(ids[1] ?? "")).toBeUndefined();
    expect((await call("DELETE", `/api/monitor/jobs/${ids[1]}`)).statusCode).toBe(404);

    // Gone from the engine, not from the history: still found by its id, as it last was.
    expect((await searchJobs(`q=${ids[1]}`)).items).toEqual([
      expect.objectContaining({
        id: ids[1],
        name: "report.flaky",
        state: "failed",
        data: { region: "south" },
        failed_reason: expect.stringContaining("report source missing"),
      }),
    ]);
    // And the redriven one shows its new data and its result.
    await waitFor(
      async () => (await searchJobs(`q=${ids[0]}`)).items[0]?.state === "completed" || undefined,
      { what: "the redriven job completed in the history" },
    );
    expect((await searchJobs(`q=${ids[0]}`)).items[0]).toMatchObject({
      data: { region: "north", ok: true },
      result: "built",
      attempts_made: 1,
    });
    expect(historyErrors).toEqual([]);
  });

  it("purges task dead letters, listed ones or all, and leaves their tasks FAILED", async () => {
    const { app, taskQueue } = fixture();
    const user = await signUp(app);
    await startPipeline();
    const [a, b, c] = [
      await submit(app, user.auth, { type: "fail", payload: { times: 5 }, max_attempts: 1 }),
      await submit(app, user.auth, { type: "fail", payload: { times: 5 }, max_attempts: 1 }),
      await submit(app, user.auth, { type: "fail", payload: { times: 5 }, max_attempts: 1 }),
    ];
    // A message that names no task: the worker dead-letters it, listed under its own id.
    const stray = `stray-${stamp}`;
    await taskQueue.publish([{ id: stray, body: { junk: true } }]);
    const listed = async () => {
      const res = await call("GET", "/api/monitor/dead-letters?source=task-queue&limit=100");
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{ id: string; type: string | null }[]>().map((l) => l.id);
    };
    await waitFor(
      async () => {
        const ids = await listed();
        return [a, b, c, stray].every((id) => ids.includes(id));
      },
      { what: "four dead letters" },
    );
    await stopPipeline();

    const purge = (payload: object) => call("POST", "/api/monitor/dead-letters/purge", { payload });
    expect((await purge({ source: "job-queue" })).statusCode).toBe(422);
    expect((await purge({ source: "task-queue", ids: [] })).statusCode).toBe(422);
    expect((await purge({ source: "task-queue", all: true })).statusCode).toBe(422);

    const some = await purge({ source: "task-queue", ids: [a, stray, "no-such-letter"] });
    expect(some.statusCode, some.body).toBe(200);
    expect(some.json()).toEqual({ purged: 2 });
    const left = await listed();
    expect(left).not.toContain(a);
    expect(left).not.toContain(stray);
    expect(left).toEqual(expect.arrayContaining([b, c]));
    // Gone from the queue, not from the tasks: still FAILED with its error, still retryable.
    expect(await taskStatus(a)).toMatchObject({
      status: "FAILED",
      last_error: expect.stringContaining("failing on purpose"),
    });
    expect((await purge({ source: "task-queue", ids: [a] })).json()).toEqual({ purged: 0 });

    const before = (await taskQueue.stats()).deadLettered;
    expect(before).toBeGreaterThanOrEqual(2);
    const all = await purge({ source: "task-queue" });
    expect(all.statusCode, all.body).toBe(200);
    expect(all.json()).toEqual({ purged: before });
    expect(await listed()).toEqual([]);
    const [tasks] = (await call("GET", "/api/monitor/queues")).json<{ dead_lettered: number }[]>();
    expect(tasks?.dead_lettered).toBe(0);
    expect((await taskStatus(b))?.status).toBe("FAILED");
  });

  it("records every action in the audit log, newest first, page by page", async () => {
    const page1 = await call("GET", "/api/monitor/audit?limit=3");
    expect(page1.statusCode).toBe(200);
    const first = page1.json<{ items: { id: string }[]; next_cursor: string | null }>();
    expect(first.items).toHaveLength(3);
    const rest = await call("GET", `/api/monitor/audit?limit=100&cursor=${first.next_cursor}`);
    const entries = [...first.items, ...rest.json().items] as {
      id: string;
      action: string;
      target: string;
      actor_email: string;
      details: Record<string, unknown>;
    }[];
    expect(entries.map((e) => Number(e.id))).toEqual(
      entries.map((e) => Number(e.id)).sort((a, b) => b - a),
    );
    expect(new Set(entries.map((e) => e.actor_email.toLowerCase()))).toEqual(
      new Set([ADMIN_EMAIL.toLowerCase()]),
    );
    expect(entries.map((e) => `${e.action} ${e.target.split(":")[0]}`).reverse()).toEqual([
      "task.retry task",
      "dead-letters.redrive task-queue",
      "task.cancel task",
      "job.retry job",
      "dead-letters.redrive job-queue",
      "job.remove job",
      "dead-letters.purge task-queue",
      "dead-letters.purge task-queue",
      "dead-letters.purge task-queue",
    ]);
    const redrive = entries.find(
      (e) => e.action === "dead-letters.redrive" && e.target === "task-queue",
    );
    expect(redrive?.details).toMatchObject({
      payload_replaced: true,
      redriven: [expect.any(String)],
    });
    const purges = entries.filter((e) => e.action === "dead-letters.purge").reverse();
    expect(purges.map((e) => e.details)).toEqual([
      {
        requested: [expect.any(String), expect.stringMatching(/^stray-/), "no-such-letter"],
        message_ids: expect.arrayContaining([
          expect.stringMatching(/^outbox-/),
          expect.stringMatching(/^stray-/),
        ]),
        purged: 2,
      },
      { requested: [expect.any(String)], message_ids: [], purged: 0 },
      { requested: "all", purged: expect.any(Number) },
    ]);
  });
});

describe("GET /api/monitor/events", () => {
  it("streams every owner's task changes to an operator", async () => {
    const { app } = fixture();
    const [ada, bob] = [await signUp(app), await signUp(app, "Bob")];
    const controller = new AbortController();
    const res = await fetch(`${base}/api/monitor/events`, {
      headers: await admin(),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const received: { id: string; owner_id: string; status: string }[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        if (!res.body) return;
        for await (const chunk of res.body) {
          for (const [, data] of decoder
            .decode(chunk as Uint8Array, { stream: true })
            .matchAll(/^data: (.*)$/gm)) {
            received.push(JSON.parse(data ?? "{}"));
          }
        }
      } catch {
        // aborted
      }
    })();
    const ids = [
      await submit(app, ada.auth, { type: "sleep", payload: { ms: 1 } }),
      await submit(app, bob.auth, { type: "sleep", payload: { ms: 1 } }),
    ];
    await waitFor(() => ids.every((id) => received.some((e) => e.id === id)), {
      what: "both owners' task.updated events",
    });
    controller.abort();
    await reading;
    expect(received.filter((e) => ids.includes(e.id))).toEqual([
      { id: ids[0], owner_id: ada.id, status: "PENDING" },
      { id: ids[1], owner_id: bob.id, status: "PENDING" },
    ]);
  });
});

describe("GET /api/monitor/events, background jobs", () => {
  it("streams each job's changes from the job engine as job.updated", async () => {
    // Jobs named report.flaky complete when their data says ok, else fail (as in the actions above).
    jobProcessor ??= await historyQueue().process(
      async (job) => {
        if ((job.data as { ok?: boolean }).ok) return "built";
        throw new PermanentJobError("report source missing");
      },
      { concurrency: 2 },
    );
    const controller = new AbortController();
    const res = await fetch(`${base}/api/monitor/events`, {
      headers: await admin(),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const events: { event: string; data: Record<string, unknown> }[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        if (!res.body) return;
        for await (const chunk of res.body) {
          buffered += decoder.decode(chunk as Uint8Array, { stream: true });
          const blocks = buffered.split("\n\n");
          buffered = blocks.pop() ?? "";
          for (const block of blocks) {
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
    const [good, bad] = [`report-${stamp}-good`, `report-${stamp}-bad`];
    await historyQueue().add([
      { name: "report.flaky", jobId: good, data: { ok: true } },
      { name: "report.flaky", jobId: bad, data: {}, attempts: 1 },
    ]);
    const jobUpdates = (id: string) =>
      events.filter((e) => e.event === "job.updated" && e.data.id === id).map((e) => e.data);
    await waitFor(
      () =>
        jobUpdates(good).at(-1)?.state === "completed" &&
        jobUpdates(bad).at(-1)?.state === "failed",
      { what: "job.updated events up to completed and failed" },
    );
    controller.abort();
    await reading;
    const queue = fixture().jobQueue.name;
    expect(jobUpdates(good)).toEqual([
      { id: good, queue, name: "report.flaky", state: "waiting", attempts: 0 },
      { id: good, queue, name: "report.flaky", state: "active", attempts: 1 },
      { id: good, queue, name: "report.flaky", state: "completed", attempts: 1 },
    ]);
    expect(jobUpdates(bad).at(-1)).toEqual({
      id: bad,
      queue,
      name: "report.flaky",
      state: "failed",
      attempts: 1,
      failed_reason: "report source missing",
    });
  });
});
