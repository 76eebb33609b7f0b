import { engineAvailable, testEngines, uniqueName } from "@taskflow/testing";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimitRedis } from "../src/http/rate-limit-redis.ts";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

const run = uniqueName("rate-limit");
// Every counter of this run lives under one prefix, removed afterwards.
const prefix = `taskflow-test:${run}:`;
// Nothing listens there: a Redis that is down.
const DEAD_REDIS_URL = "redis://127.0.0.1:1";

const fixtures: AppFixture[] = [];
let redisUp = false;
beforeAll(async () => {
  redisUp = await engineAvailable("redis");
});
afterAll(async () => {
  for (const f of fixtures) await f.close();
  if (!redisUp) return;
  const redis = new Redis(testEngines.redisUrl);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
});

/** Two API processes on one database, counting their rate limits in `redisUrl`. */
async function twoReplicas(
  options: { loginRateLimitPerMinute?: number; taskRateLimitPerMinute?: number },
  redisUrl = testEngines.redisUrl,
): Promise<[FastifyInstance, FastifyInstance]> {
  const f = await openAppFixture({
    ...options,
    rateLimitRedisUrl: redisUrl,
    rateLimitKeyPrefix: prefix,
  });
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  fixtures.push(f);
  return [f.app, await f.replica()];
}

const login = (app: FastifyInstance, email: string) =>
  app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { email, password: "guess-guess" },
  });

describe("rate limits shared through Redis by several API processes", () => {
  it("gives a login email one budget across replicas: the attempt past it is refused on either, with Retry-After", async (context) => {
    if (!redisUp) context.skip();
    const [a, b] = await twoReplicas({ loginRateLimitPerMinute: 3 });
    const email = `target-${run}@example.com`;
    const codes = [
      (await login(a, email)).statusCode,
      (await login(b, email)).statusCode,
      (await login(a, email)).statusCode,
    ];
    expect(codes).toEqual([401, 401, 401]);
    for (const replica of [b, a]) {
      const refused = await login(replica, email);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
      const retryAfter = Number(refused.headers["retry-after"]);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    // Another email has a budget of its own.
    expect((await login(b, `other-${run}@example.com`)).statusCode).toBe(401);
  });

  it("gives a user one task-submission budget across replicas", async (context) => {
    if (!redisUp) context.skip();
    const [a, b] = await twoReplicas({ taskRateLimitPerMinute: 2 });
    const user = await signUp(a);
    const submit = (app: FastifyInstance) =>
      app.inject({
        method: "POST",
        url: "/api/tasks",
        headers: user.auth,
        payload: { type: "echo", payload: {} },
      });
    expect((await submit(a)).statusCode).toBe(202);
    expect((await submit(b)).statusCode).toBe(202);
    const refused = await submit(a);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await submit(b)).statusCode).toBe(429);
  });

  it("lets requests through, without waiting for it, while Redis is unreachable", async () => {
    const [a, b] = await twoReplicas({ taskRateLimitPerMinute: 1 }, DEAD_REDIS_URL);
    const user = await signUp(a);
    const started = Date.now();
    const codes: number[] = [];
    for (const app of [a, b, a, b]) {
      const answer = await app.inject({
        method: "POST",
        url: "/api/tasks",
        headers: user.auth,
        payload: { type: "echo", payload: {} },
      });
      codes.push(answer.statusCode);
    }
    expect(codes).toEqual([202, 202, 202, 202]);
    // A limiter waiting on Redis would spend its command timeout (1 s) on each request.
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("the rate-limit Redis connection", () => {
  it("logs an outage once, not once per reconnection attempt", async () => {
    const warnings: string[] = [];
    const redis = await createRateLimitRedis(DEAD_REDIS_URL, {
      warn: (_details, message) => warnings.push(message),
      info: () => {},
    });
    try {
      // ioredis retries after 50, 100, 150 … ms: several failed attempts in a second.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(warnings).toEqual([
        "rate-limit Redis unreachable: requests are not rate limited until it answers",
      ]);
      await expect(redis.ping()).rejects.toThrow();
    } finally {
      redis.disconnect();
    }
  });
});
