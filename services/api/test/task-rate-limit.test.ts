import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

let f: AppFixture | undefined;
beforeAll(async () => {
  f = await openAppFixture({ taskRateLimitPerMinute: 3 });
});
afterAll(async () => {
  await f?.close();
});

describe("POST /api/tasks per-user rate limit", () => {
  it("answers 429 problem+json with Retry-After past the user's budget, writes nothing, and leaves other users alone", async () => {
    if (!f) throw new Error("PostgreSQL fixture unavailable");
    const { app, database } = f;
    const [busy, other] = [await signUp(app), await signUp(app)];
    const submit = (user: typeof busy) =>
      app.inject({
        method: "POST",
        url: "/api/tasks",
        headers: user.auth,
        payload: { type: "echo", payload: {} },
      });
    for (let i = 0; i < 3; i++) expect((await submit(busy)).statusCode).toBe(202);
    const refused = await submit(busy);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["content-type"]).toMatch(/application\/problem\+json/);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await submit(other)).statusCode).toBe(202);
    const stored = await database.db
      .selectFrom("tasks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("owner_id", "=", busy.id)
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(3);
  });
});
