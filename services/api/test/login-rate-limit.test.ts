import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFixture, openAppFixture } from "./app-fixture.ts";

let f: AppFixture | undefined;
beforeAll(async () => {
  f = await openAppFixture({
    loginRateLimitPerMinute: 1_000,
    loginRateLimitPerAddressPerMinute: 3,
  });
});
afterAll(async () => {
  await f?.close();
});

describe("POST /api/auth/login per-address rate limit", () => {
  it("answers 429 problem+json with Retry-After once one address tried too many emails", async () => {
    if (!f) throw new Error("PostgreSQL fixture unavailable");
    const { app } = f;
    const attempt = (i: number) =>
      app.inject({
        method: "POST",
        url: "/api/auth/login",
        payload: { email: `spray-${i}@example.com`, password: "guess-guess" },
      });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await attempt(i)).statusCode);
    expect(codes).toEqual([401, 401, 401]);
    const limited = await attempt(3);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(limited.json().detail ?? limited.json().title).toMatch(/address|too many/i);
  });
});
