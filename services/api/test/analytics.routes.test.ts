import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserRepository } from "../src/modules/users/user.repository.ts";
import { createAccount } from "../src/modules/users/user.service.ts";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

const ADMIN_EMAIL = `analytics-ops-${process.pid}-${Date.now()}@example.com`;
const MINUTE = 60_000;

let f: AppFixture | undefined;
beforeAll(async () => {
  f = await openAppFixture({ adminEmails: [ADMIN_EMAIL] });
});
afterAll(async () => {
  await f?.close();
});

const fixture = () => {
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  return f;
};

let adminAuth: Record<string, string> | undefined;
async function admin() {
  if (adminAuth) return adminAuth;
  const { app, database } = fixture();
  const password = "correct horse battery";
  await createAccount(createUserRepository(database.db), {
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

const summary = async (query = "", headers?: Record<string, string>) =>
  fixture().app.inject({
    method: "GET",
    url: `/api/analytics/summary${query}`,
    headers: headers ?? (await admin()),
  });

interface Summary {
  window: { minutes: number; from: string; to: string };
  orders: {
    count: number;
    revenue_cents: Record<string, number>;
    per_minute: { minute: string; count: number; revenue_cents: Record<string, number> }[];
  };
  top_products: {
    sku: string;
    name: string;
    currency: string;
    quantity: number;
    revenue_cents: number;
  }[];
  tasks: {
    completed: number;
    failed: number;
    p50_ms: number | null;
    p95_ms: number | null;
    per_minute: {
      minute: string;
      completed: number;
      failed: number;
      p50_ms: number | null;
      p95_ms: number | null;
    }[];
  };
}

const currentMinute = () => Math.floor(Date.now() / MINUTE) * MINUTE;

describe("GET /api/analytics/summary", () => {
  it("is for operators: 401 without a token, 403 for any other user (before the query is looked at)", async () => {
    const { app } = fixture();
    const anonymous = await app.inject({ method: "GET", url: "/api/analytics/summary" });
    expect(anonymous.statusCode).toBe(401);
    const user = await signUp(app);
    for (const query of ["", "?minutes=0"]) {
      const res = await summary(query, user.auth);
      expect(res.statusCode).toBe(403);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
    }
  });

  it("answers a dense, zero-filled window of 60 minutes by default, oldest first", async () => {
    const res = await summary();
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Summary>();
    expect(body.window.minutes).toBe(60);
    expect(Date.parse(body.window.to) - Date.parse(body.window.from)).toBe(60 * MINUTE);
    expect(Date.parse(body.window.to) % MINUTE).toBe(0);
    expect(body.orders.per_minute).toHaveLength(60);
    expect(body.tasks.per_minute).toHaveLength(60);
    expect(body.orders.per_minute[0]?.minute).toBe(body.window.from);
    const last = body.tasks.per_minute.at(-1);
    expect(Date.parse(last?.minute ?? "")).toBe(Date.parse(body.window.to) - MINUTE);
    expect(body.orders.per_minute[1]).toEqual({
      minute: new Date(Date.parse(body.window.from) + MINUTE).toISOString(),
      count: 0,
      revenue_cents: {},
    });
  });

  it("refuses a window outside 1–1440 minutes or unknown parameters (422)", async () => {
    for (const query of ["?minutes=0", "?minutes=1441", "?minutes=abc", "?top=0", "?days=1"]) {
      const res = await summary(query);
      expect(res.statusCode, query).toBe(422);
    }
    const one = await summary("?minutes=1");
    expect(one.statusCode).toBe(200);
    expect(one.json<Summary>().orders.per_minute).toHaveLength(1);
  });

  it("sums the window's minutes, ranks products and reads nearest-rank percentiles from the histograms", async () => {
    const { db } = fixture().database;
    // Minutes well inside both windows (a minute turning during the test moves nothing out).
    const m1 = new Date(currentMinute() - 5 * MINUTE);
    const m2 = new Date(currentMinute() - 10 * MINUTE);
    const old = new Date(currentMinute() - 90 * MINUTE);
    await db
      .insertInto("analytics_order_minutes")
      .values([
        { minute: m1, currency: "EUR", orders: 3, revenue_cents: 30_000 },
        { minute: m1, currency: "USD", orders: 1, revenue_cents: 999 },
        { minute: m2, currency: "EUR", orders: 2, revenue_cents: 5_000 },
        { minute: old, currency: "EUR", orders: 7, revenue_cents: 70_000 },
      ])
      .execute();
    await db
      .insertInto("analytics_product_minutes")
      .values([
        {
          minute: m1,
          sku: "KB-101",
          currency: "EUR",
          name: "Keyboard v2",
          quantity: 2,
          revenue_cents: 20_000,
        },
        {
          minute: m2,
          sku: "KB-101",
          currency: "EUR",
          name: "Keyboard",
          quantity: 1,
          revenue_cents: 10_000,
        },
        {
          minute: m1,
          sku: "CB-USB",
          currency: "EUR",
          name: "Cable",
          quantity: 5,
          revenue_cents: 5_000,
        },
        {
          minute: m1,
          sku: "MS-1",
          currency: "USD",
          name: "Mouse",
          quantity: 3,
          revenue_cents: 999,
        },
        {
          minute: old,
          sku: "OLD-1",
          currency: "EUR",
          name: "Old",
          quantity: 100,
          revenue_cents: 70_000,
        },
      ])
      .execute();
    await db
      .insertInto("analytics_task_minutes")
      .values([
        { minute: m1, completed: 100, failed: 4 },
        { minute: m2, completed: 1, failed: 0 },
        { minute: old, completed: 50, failed: 50 },
      ])
      .execute();
    // Buckets as the writer makes them: a bucket's value grows with its number. m1: 100 DONE
    // tasks, one per bucket 101..200 worth 10, 20 … 1000 ms: rank 50 is 500 ms, rank 95 950 ms.
    // m2: one task of 7 ms. Both: ranks 51 and 96 of 101, the same values.
    await db
      .insertInto("analytics_task_durations")
      .values([
        ...Array.from({ length: 100 }, (_, i) => ({
          minute: m1,
          bucket: 101 + i,
          value_ms: (i + 1) * 10,
          count: 1,
        })),
        { minute: m2, bucket: 50, value_ms: 7, count: 1 },
        { minute: old, bucket: 1, value_ms: 1, count: 1_000 },
      ])
      .execute();

    const res = await summary();
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Summary>();
    expect(body.orders.count).toBe(6);
    expect(body.orders.revenue_cents).toEqual({ EUR: 35_000, USD: 999 });
    const byMinute = new Map(body.orders.per_minute.map((m) => [m.minute, m]));
    expect(byMinute.get(m1.toISOString())).toEqual({
      minute: m1.toISOString(),
      count: 4,
      revenue_cents: { EUR: 30_000, USD: 999 },
    });
    expect(byMinute.get(m2.toISOString())?.count).toBe(2);
    expect(body.top_products).toEqual([
      { sku: "CB-USB", name: "Cable", currency: "EUR", quantity: 5, revenue_cents: 5_000 },
      // Units across the window's minutes, named as in the latest minute.
      { sku: "KB-101", name: "Keyboard v2", currency: "EUR", quantity: 3, revenue_cents: 30_000 },
      { sku: "MS-1", name: "Mouse", currency: "USD", quantity: 3, revenue_cents: 999 },
    ]);
    expect(body.tasks).toMatchObject({ completed: 101, failed: 4, p50_ms: 500, p95_ms: 950 });
    const tasksByMinute = new Map(body.tasks.per_minute.map((m) => [m.minute, m]));
    expect(tasksByMinute.get(m1.toISOString())).toEqual({
      minute: m1.toISOString(),
      completed: 100,
      failed: 4,
      p50_ms: 500,
      p95_ms: 950,
    });
    expect(tasksByMinute.get(m2.toISOString())).toMatchObject({ p50_ms: 7, p95_ms: 7 });
    const quiet = body.tasks.per_minute.find((m) => m.completed === 0);
    expect(quiet).toMatchObject({ failed: 0, p50_ms: null, p95_ms: null });

    // A wider window takes in the older minute; `top` cuts the list.
    const wide = (await summary("?minutes=120&top=1")).json<Summary>();
    expect(wide.orders.per_minute).toHaveLength(120);
    expect(wide.orders.count).toBe(13);
    expect(wide.orders.revenue_cents).toEqual({ EUR: 105_000, USD: 999 });
    expect(wide.top_products).toEqual([
      { sku: "OLD-1", name: "Old", currency: "EUR", quantity: 100, revenue_cents: 70_000 },
    ]);
    // 1,101 durations: 1,000 of 1 ms, then 7 ms, then m1's: rank 1,046 is m1's 45th.
    expect(wide.tasks).toMatchObject({ completed: 151, failed: 54, p50_ms: 1, p95_ms: 450 });
  });

  it("is documented in the OpenAPI document, with its security and window", async () => {
    const doc = (await fixture().app.inject({ method: "GET", url: "/openapi.json" })).json();
    const get = doc.paths["/api/analytics/summary"]?.get;
    expect(get.tags).toEqual(["analytics"]);
    expect(get.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }]);
    const minutes = get.parameters.find((p: { name: string }) => p.name === "minutes");
    expect(minutes.schema).toMatchObject({ minimum: 1, maximum: 1440, default: 60 });
    expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(["200", "401", "403"]));
    expect(doc.components.schemas.AnalyticsSummary).toBeDefined();
  });
});
