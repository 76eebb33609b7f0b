import { once } from "node:events";
import { connect } from "node:net";
import { createTaskRepository } from "@taskflow/tasks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

let f: AppFixture | undefined;
beforeAll(async () => {
  f = await openAppFixture();
});
afterAll(async () => {
  await f?.close();
});

const fixture = () => {
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  return f;
};

async function submit(
  auth: Record<string, string>,
  payload: unknown,
  headers: Record<string, string> = {},
) {
  return fixture().app.inject({
    method: "POST",
    url: "/api/tasks",
    headers: { ...auth, ...headers },
    payload: payload as object,
  });
}

describe("POST /api/tasks", () => {
  it("accepts a task with 202, stores it PENDING and queues it in the same transaction", async () => {
    const { app, database } = fixture();
    const user = await signUp(app);
    const res = await submit(user.auth, { type: "sleep", title: "nap", payload: { ms: 5 } });
    expect(res.statusCode).toBe(202);
    const task = res.json();
    expect(task).toEqual({
      id: expect.any(String),
      type: "sleep",
      title: "nap",
      status: "PENDING",
      created_at: expect.any(String),
    });
    expect(res.headers.location).toBe(`/api/tasks/${task.id}`);
    const outbox = await database.db
      .selectFrom("outbox")
      .selectAll()
      .where("message_key", "=", task.id)
      .execute();
    expect(outbox).toHaveLength(1);
    expect(outbox[0]?.payload).toEqual({ task_id: task.id, type: "sleep", priority: 5 });
  });

  it("takes a priority 0–9 (5 by default), keeps it on the task and on its queue message", async () => {
    const { app, database } = fixture();
    const user = await signUp(app);
    const urgent = await submit(user.auth, { type: "echo", payload: {}, priority: 0 });
    expect(urgent.statusCode).toBe(202);
    const plain = await submit(user.auth, { type: "echo", payload: {} });
    for (const [res, priority] of [
      [urgent, 0],
      [plain, 5],
    ] as const) {
      const { id } = res.json();
      const shown = await app.inject({ url: `/api/tasks/${id}`, headers: user.auth });
      expect(shown.json().priority).toBe(priority);
      const [message] = await database.db
        .selectFrom("outbox")
        .select("payload")
        .where("message_key", "=", id)
        .execute();
      expect(message?.payload).toMatchObject({ task_id: id, priority });
    }
    for (const priority of [-1, 10, 2.5, "high"]) {
      const bad = await submit(user.auth, { type: "echo", payload: {}, priority });
      expect(bad.statusCode).toBe(422);
      expect(bad.headers["content-type"]).toContain("application/problem+json");
    }
  });

  it("answers 422 for an unknown type, naming the known ones", async () => {
    const user = await signUp(fixture().app);
    const res = await submit(user.auth, { type: "teleport" });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors[0]).toEqual({
      path: "/type",
      message: expect.stringContaining("sleep"),
    });
  });

  it("answers 422 for a payload its type cannot run, and for bad fields", async () => {
    const user = await signUp(fixture().app);
    const bad = await submit(user.auth, { type: "sleep", payload: { ms: "soon" } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().errors[0].path).toBe("/payload/ms");
    for (const body of [
      { type: "sleep", payload: { ms: 1 }, colour: "red" },
      { type: "sleep", payload: { ms: 1 }, max_attempts: 0 },
      { type: "sleep", payload: { ms: 1 }, max_attempts: 1000 },
      { type: 42 },
      { type: "sleep", title: "x".repeat(501), payload: { ms: 1 } },
      {},
    ]) {
      const res = await submit(user.auth, body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    }
  });

  it("answers 413 for a body over 1 MiB, and writes nothing", async () => {
    const { app, database } = fixture();
    const user = await signUp(app);
    const res = await submit(user.auth, {
      type: "echo",
      payload: { blob: "x".repeat(1024 * 1024 + 10) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const count = await database.db
      .selectFrom("tasks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("owner_id", "=", user.id)
      .executeTakeFirst();
    expect(Number(count?.n)).toBe(0);
  });

  it("answers 413 over a real connection to a client still sending megabytes, instead of resetting it", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const { port } = new URL(await app.listen({ host: "127.0.0.1", port: 0 }));
    const socket = connect(Number(port), "127.0.0.1");
    await once(socket, "connect");
    // Like fetch, it reads the answer only once it has sent the whole body. Without a
    // lingering close the server closes under it, and the reset discards the unread 413.
    socket.pause();
    const size = 8 * 1024 * 1024;
    socket.write(
      `POST /api/tasks HTTP/1.1\r\nHost: api\r\nAuthorization: ${user.auth.authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
    );
    let failure: Error | undefined;
    socket.on("error", (error) => {
      failure ??= error;
    });
    const chunk = Buffer.alloc(64 * 1024, "x");
    for (let sent = 0; sent < size && !failure; sent += chunk.length) {
      if (!socket.write(chunk)) await Promise.race([once(socket, "drain"), once(socket, "close")]);
    }
    let answer = "";
    socket.setEncoding("utf8").on("data", (text: string) => {
      answer += text;
    });
    socket.resume();
    await once(socket, "close");
    expect(failure).toBeUndefined();
    expect(answer).toMatch(
      /^HTTP\/1\.1 413 .*\r\n[\s\S]*content-type: application\/problem\+json/i,
    );
  });

  it("holds a task with run_at: PENDING until then, its queue message due at that time", async () => {
    const { app, database } = fixture();
    const user = await signUp(app);
    const runAt = new Date(Date.now() + 3_600_000);
    const res = await submit(user.auth, { type: "echo", payload: {}, run_at: runAt.toISOString() });
    expect(res.statusCode).toBe(202);
    const id = res.json<{ id: string }>().id;
    const task = await app.inject({ method: "GET", url: `/api/tasks/${id}`, headers: user.auth });
    expect(task.json()).toMatchObject({ status: "PENDING", run_at: runAt.toISOString() });
    const queued = await database.db
      .selectFrom("outbox")
      .select("available_at")
      .where("message_key", "=", id)
      .executeTakeFirstOrThrow();
    expect(new Date(queued.available_at).toISOString()).toBe(runAt.toISOString());

    const later = new Date(Date.now() + 400 * 24 * 3600 * 1000).toISOString();
    for (const run_at of ["tomorrow", "2026-13-45T00:00:00Z", later]) {
      const bad = await submit(user.auth, { type: "echo", run_at });
      expect(bad.statusCode, run_at).toBe(422);
    }
  });

  it("answers 401 without a token", async () => {
    const res = await fixture().app.inject({
      method: "POST",
      url: "/api/tasks",
      payload: { type: "sleep", payload: { ms: 1 } },
    });
    expect(res.statusCode).toBe(401);
  });
});

describe("Idempotency-Key on POST /api/tasks", () => {
  it("returns the first answer again for the same key and body", async () => {
    const user = await signUp(fixture().app);
    const body = { type: "echo", payload: { a: 1, b: [1, 2] } };
    const first = await submit(user.auth, body, { "idempotency-key": "order-1" });
    const second = await submit(
      user.auth,
      { payload: { b: [1, 2], a: 1 }, type: "echo" },
      { "idempotency-key": "order-1" },
    );
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual(first.json());
    expect(second.headers["idempotent-replayed"]).toBe("true");
  });

  it("answers 409 when the key comes back with another body", async () => {
    const user = await signUp(fixture().app);
    await submit(user.auth, { type: "echo", payload: { a: 1 } }, { "idempotency-key": "k" });
    const res = await submit(
      user.auth,
      { type: "echo", payload: { a: 2 } },
      { "idempotency-key": "k" },
    );
    expect(res.statusCode).toBe(409);
  });

  it("creates one task for twenty concurrent requests with one key", async () => {
    const { app, database } = fixture();
    const user = await signUp(app);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        submit(user.auth, { type: "sleep", payload: { ms: 0 } }, { "idempotency-key": "burst" }),
      ),
    );
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(202));
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(1);
    const rows = await database.db
      .selectFrom("tasks")
      .select("id")
      .where("owner_id", "=", user.id)
      .execute();
    expect(rows).toHaveLength(1);
  });

  it("keeps keys per user: two users may use the same key", async () => {
    const { app } = fixture();
    const [a, b] = [await signUp(app), await signUp(app)];
    const ra = await submit(
      a.auth,
      { type: "sleep", payload: { ms: 0 } },
      { "idempotency-key": "same" },
    );
    const rb = await submit(
      b.auth,
      { type: "sleep", payload: { ms: 0 } },
      { "idempotency-key": "same" },
    );
    expect(ra.json().id).not.toBe(rb.json().id);
  });
});

describe("GET /api/tasks/{id}", () => {
  it("shows the owner the whole task", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const { id } = (await submit(user.auth, { type: "echo", payload: { hello: "world" } })).json();
    const res = await app.inject({ method: "GET", url: `/api/tasks/${id}`, headers: user.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id,
      type: "echo",
      status: "PENDING",
      attempts: 0,
      max_attempts: 3,
      result: null,
      last_error: null,
      started_at: null,
      finished_at: null,
    });
  });

  it("answers 404 to anyone else, and for ids that are not ids", async () => {
    const { app } = fixture();
    const [owner, other] = [await signUp(app), await signUp(app)];
    const { id } = (await submit(owner.auth, { type: "sleep", payload: { ms: 0 } })).json();
    for (const url of [
      `/api/tasks/${id}`,
      "/api/tasks/not-an-id",
      "/api/tasks/00000000-0000-0000-0000-000000000000",
      "/api/tasks/%27%3B--",
    ]) {
      const res = await app.inject({ method: "GET", url, headers: other.auth });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    }
  });
});

describe("GET /api/tasks", () => {
  it("pages newest first with an opaque cursor, without gaps or repeats", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const created: string[] = [];
    for (let i = 0; i < 5; i++)
      created.push((await submit(user.auth, { type: "sleep", payload: { ms: i } })).json().id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/tasks?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = (await app.inject({ method: "GET", url, headers: user.auth })).json();
      seen.push(...page.items.map((t: { id: string }) => t.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...created].reverse());
  });

  it("filters by status", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const a = (await submit(user.auth, { type: "sleep", payload: { ms: 0 } })).json().id;
    await submit(user.auth, { type: "sleep", payload: { ms: 0 } });
    await app.inject({ method: "POST", url: `/api/tasks/${a}/cancel`, headers: user.auth });
    const res = await app.inject({
      method: "GET",
      url: "/api/tasks?status=CANCELLED",
      headers: user.auth,
    });
    expect(res.json().items.map((t: { id: string }) => t.id)).toEqual([a]);
  });

  it("answers 422 for a page size of a million, a bad status, a forged cursor or unknown parameters", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    for (const query of [
      "limit=1000000",
      "limit=0",
      "limit=abc",
      "status=SLEEPING",
      "cursor=bm90LWEtY3Vyc29y",
      "sort=evil",
    ]) {
      const res = await app.inject({
        method: "GET",
        url: `/api/tasks?${query}`,
        headers: user.auth,
      });
      expect(res.statusCode, query).toBe(422);
    }
  });
});

describe("GET /api/tasks/stats and POST /api/tasks/{id}/cancel", () => {
  it("counts the caller's tasks by status as they move, and only theirs", async () => {
    const { app, database } = fixture();
    const [user, other] = [await signUp(app), await signUp(app)];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push((await submit(user.auth, { type: "sleep", payload: { ms: 0 } })).json().id);
    await submit(other.auth, { type: "sleep", payload: { ms: 0 } });
    await app.inject({ method: "POST", url: `/api/tasks/${ids[0]}/cancel`, headers: user.auth });
    const repo = createTaskRepository(database.db);
    const claimed = await repo.claim([{ taskId: ids[1] as string, redelivered: false }]);
    await repo.finish(
      [{ taskId: ids[1] as string, attempt: claimed[0]?.attempts ?? 1, ok: true, result: 1 }],
      { baseMs: 10, maxMs: 10 },
    );
    await repo.claim([{ taskId: ids[2] as string, redelivered: false }]);
    const stats = (
      await app.inject({ method: "GET", url: "/api/tasks/stats", headers: user.auth })
    ).json();
    expect(stats).toEqual({
      PENDING: 1,
      PROCESSING: 1,
      RETRYING: 0,
      DONE: 1,
      FAILED: 0,
      CANCELLED: 1,
    });
  });

  it("cancels a PENDING task once; then 409; another user's is 404", async () => {
    const { app } = fixture();
    const [owner, other] = [await signUp(app), await signUp(app)];
    const { id } = (await submit(owner.auth, { type: "sleep", payload: { ms: 0 } })).json();
    expect(
      (await app.inject({ method: "POST", url: `/api/tasks/${id}/cancel`, headers: other.auth }))
        .statusCode,
    ).toBe(404);
    const first = await app.inject({
      method: "POST",
      url: `/api/tasks/${id}/cancel`,
      headers: owner.auth,
    });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      id,
      status: "CANCELLED",
      finished_at: expect.any(String),
    });
    expect(
      (await app.inject({ method: "POST", url: `/api/tasks/${id}/cancel`, headers: owner.auth }))
        .statusCode,
    ).toBe(409);
  });
});
