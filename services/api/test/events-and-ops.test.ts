import { createLogger } from "@taskflow/observability";
import { createTaskRepository } from "@taskflow/tasks";
import { waitFor } from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

let f: AppFixture | undefined;
let base = "";
beforeAll(async () => {
  f = await openAppFixture();
  if (f) base = await f.app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await f?.close();
});

const fixture = () => {
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  return f;
};

/** Reads a text/event-stream into a list of {event, data}. */
async function openStream(headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/events`, { headers, signal: controller.signal });
  const events: { event: string; data: unknown }[] = [];
  const done = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    res,
    events,
    close: async () => {
      controller.abort();
      await done;
    },
  };
}

describe("GET /api/events", () => {
  it("streams the caller's task changes as they commit, and no one else's", async () => {
    const { app, database } = fixture();
    const [user, other] = [await signUp(app), await signUp(app)];
    const stream = await openStream(user.auth);
    expect(stream.res.status).toBe(200);
    expect(stream.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const mine = (
      await app.inject({
        method: "POST",
        url: "/api/tasks",
        headers: user.auth,
        payload: { type: "sleep", payload: { ms: 0 } },
      })
    ).json().id;
    await app.inject({
      method: "POST",
      url: "/api/tasks",
      headers: other.auth,
      payload: { type: "sleep", payload: { ms: 0 } },
    });
    const repo = createTaskRepository(database.db);
    const [claimed] = await repo.claim([{ taskId: mine, redelivered: false }]);
    await repo.finish([{ taskId: mine, attempt: claimed?.attempts ?? 1, ok: true, result: null }], {
      baseMs: 1,
      maxMs: 1,
    });
    await waitFor(() => stream.events.length >= 3, { what: "three task.updated events" });
    await stream.close();
    expect(stream.events).toEqual([
      { event: "task.updated", data: { id: mine, status: "PENDING" } },
      { event: "task.updated", data: { id: mine, status: "PROCESSING" } },
      { event: "task.updated", data: { id: mine, status: "DONE" } },
    ]);
  });

  it("accepts the HttpOnly session cookie (EventSource sends no headers)", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const stream = await openStream({ cookie: `taskflow_session=${user.token}` });
    expect(stream.res.status).toBe(200);
    await stream.close();
  });

  it("refuses a stream without credentials, or with a token in the URL", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    expect((await fetch(`${base}/api/events`)).status).toBe(401);
    expect((await fetch(`${base}/api/events?access_token=${user.token}`)).status).toBe(401);
  });
});

describe("API documentation", () => {
  it("serves an OpenAPI 3.1 document with every public route", async () => {
    const res = await fixture().app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe("3.1.0");
    for (const path of [
      "/api/auth/register",
      "/api/auth/login",
      "/api/auth/me",
      "/api/tasks",
      "/api/tasks/{id}",
      "/api/tasks/stats",
      "/api/tasks/{id}/cancel",
      "/api/events",
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
    expect(doc.components.schemas.Problem).toBeDefined();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: "http",
      scheme: "bearer",
    });
  });

  it("serves a docs page at /docs", async () => {
    const res = await fixture().app.inject({ method: "GET", url: "/docs/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
  });
});

describe("operations endpoints", () => {
  it("answers /healthz, /readyz and /metrics", async () => {
    const { app } = fixture();
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.database).toBe("ok");
    await app.inject({ method: "GET", url: "/api/tasks/stats" });
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain("taskflow_http_request_duration_seconds_bucket");
    expect(metrics.body).toContain('route="/api/tasks/stats"');
  });

  it("answers 503 on /readyz while a dependency is down, and 200 on /healthz", async () => {
    const down = await openAppFixture({
      checks: {
        task_queue: async () => {
          throw new Error("connection refused");
        },
      },
    });
    try {
      const ready = await down?.app.inject({ method: "GET", url: "/readyz" });
      expect(ready?.statusCode).toBe(503);
      expect(ready?.json().checks.task_queue).toBe("connection refused");
      expect((await down?.app.inject({ method: "GET", url: "/healthz" }))?.statusCode).toBe(200);
    } finally {
      await down?.close();
    }
  });

  it("logs each request as one JSON line that names its request id once", async () => {
    const lines: string[] = [];
    const logged = await openAppFixture({
      logger: createLogger({
        level: "info",
        service: "api-test",
        destination: { write: (line: string) => void lines.push(line) },
      }),
    });
    try {
      const res = await logged?.app.inject({
        method: "GET",
        url: "/healthz",
        headers: { "x-request-id": "log-42" },
      });
      expect(res?.statusCode).toBe(200);
      const access = lines.filter((l) => l.includes('"msg":"request"'));
      expect(access).toHaveLength(1);
      const line = access[0] as string;
      expect(line.match(/"reqId":/g)).toHaveLength(1);
      expect(JSON.parse(line)).toMatchObject({
        reqId: "log-42",
        method: "GET",
        url: "/healthz",
        statusCode: 200,
      });
    } finally {
      await logged?.close();
    }
  });

  it("answers unknown routes with a 404 problem and echoes a request id", async () => {
    const res = await fixture().app.inject({
      method: "GET",
      url: "/nope",
      headers: { "x-request-id": "abc-123" },
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.headers["x-request-id"]).toBe("abc-123");
  });
});
