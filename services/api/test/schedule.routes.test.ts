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

const nightly = {
  name: "weekday digest",
  cron: "0 9 * * 1-5",
  timezone: "Europe/Paris",
  task: { type: "echo", title: "digest", payload: { report: "daily" } },
};

describe("/api/schedules", () => {
  it("creates a schedule whose first tick is the expression's next one in its time zone", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const res = await app.inject({
      method: "POST",
      url: "/api/schedules",
      headers: user.auth,
      payload: nightly,
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      name: "weekday digest",
      cron: "0 9 * * 1-5",
      timezone: "Europe/Paris",
      task: {
        type: "echo",
        title: "digest",
        payload: { report: "daily" },
        max_attempts: 3,
        priority: 5,
      },
      paused: false,
      last_run_at: null,
    });
    expect(res.headers.location).toBe(`/api/schedules/${body.id}`);
    // 09:00 in Paris is 08:00 or 07:00 UTC, on a weekday, in the future.
    const next = new Date(body.next_run_at);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect([7, 8]).toContain(next.getUTCHours());
    expect([1, 2, 3, 4, 5]).toContain(next.getUTCDay());
  });

  it("answers 422 naming the field for a bad expression, an unknown zone, or a task that cannot run", async () => {
    const { app } = fixture();
    const user = await signUp(app);
    const post = (payload: Record<string, unknown>) =>
      app.inject({ method: "POST", url: "/api/schedules", headers: user.auth, payload });
    const badCron = await post({ ...nightly, cron: "61 * * * *" });
    expect(badCron.statusCode).toBe(422);
    expect(badCron.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(badCron.json().errors[0].path).toBe("/body/cron");
    const badZone = await post({ ...nightly, timezone: "Mars/Olympus" });
    expect(badZone.statusCode).toBe(422);
    expect(badZone.json().errors[0].path).toBe("/body/timezone");
    const badTask = await post({ ...nightly, task: { type: "sleep", payload: { ms: "long" } } });
    expect(badTask.statusCode).toBe(422);
    expect(badTask.json().errors[0].path).toMatch(/^\/body\/task\/payload/);
    const unknownType = await post({ ...nightly, task: { type: "nope" } });
    expect(unknownType.statusCode).toBe(422);
    expect((await post({ ...nightly, extra: 1 })).statusCode).toBe(422);
  });

  it("lists, pauses, resumes and deletes only the caller's schedules; anyone else gets 404", async () => {
    const { app } = fixture();
    const owner = await signUp(app);
    const stranger = await signUp(app);
    const created = (
      await app.inject({
        method: "POST",
        url: "/api/schedules",
        headers: owner.auth,
        payload: nightly,
      })
    ).json<{ id: string }>();
    const as = (user: typeof owner, method: "GET" | "POST" | "DELETE", url: string) =>
      app.inject({ method, url, headers: user.auth });

    const list = await as(owner, "GET", "/api/schedules");
    expect(list.json().items.map((s: { id: string }) => s.id)).toEqual([created.id]);
    expect((await as(stranger, "GET", "/api/schedules")).json().items).toEqual([]);

    for (const [method, path] of [
      ["GET", ""],
      ["POST", "/pause"],
      ["POST", "/resume"],
      ["DELETE", ""],
    ] as const) {
      expect((await as(stranger, method, `/api/schedules/${created.id}${path}`)).statusCode).toBe(
        404,
      );
    }
    expect((await as(owner, "GET", "/api/schedules/not-an-id")).statusCode).toBe(404);

    const paused = await as(owner, "POST", `/api/schedules/${created.id}/pause`);
    expect(paused.json().paused).toBe(true);
    const resumed = await as(owner, "POST", `/api/schedules/${created.id}/resume`);
    expect(resumed.json()).toMatchObject({ paused: false });
    expect(new Date(resumed.json().next_run_at).getTime()).toBeGreaterThan(Date.now());

    expect((await as(owner, "DELETE", `/api/schedules/${created.id}`)).statusCode).toBe(204);
    expect((await as(owner, "GET", `/api/schedules/${created.id}`)).statusCode).toBe(404);
    expect((await as(owner, "DELETE", `/api/schedules/${created.id}`)).statusCode).toBe(404);
  });

  it("answers 401 without a token", async () => {
    const { app } = fixture();
    expect((await app.inject({ method: "GET", url: "/api/schedules" })).statusCode).toBe(401);
  });
});
