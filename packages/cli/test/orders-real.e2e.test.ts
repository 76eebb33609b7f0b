import { type ApiClient, freshTaskflowBundle, waitFor } from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allPages,
  analyticsBaseline,
  analyticsSummary,
  confirmationEmails,
  confirmationSubject,
  expectedSummary,
  interleave,
  type OrderRequest,
  type OrdersStack,
  openOrdersStack,
  orderEnginesAvailable,
  orderWorkload,
  type PlacedOrder,
  placeOrders,
  repeated,
  type StreamEngine,
  streamEngineStatus,
  streamUrlOf,
  summaryGain,
  USD_PRODUCT,
  waitForCount,
} from "./orders-fixture.ts";

/**
 * Orders end to end on the real engines, each role a `taskflow` process: validator (gRPC),
 * api, relay, notifier, mailer (BullMQ on Redis, a real SMTP server) and analytics, on a
 * PostgreSQL database of the run's own — once per event-stream engine the analytics role
 * reads (embedded, Redis Streams, NATS JetStream, Kafka). A customer places 200 orders over
 * HTTP, a quarter of them invalid in ten ways; each valid one must give exactly one
 * notification and one confirmation email and be counted once in the analytics, to the cent;
 * an invalid one nothing at all.
 */
const ENGINES: StreamEngine[] = ["embedded", "redis", "nats", "kafka"];
const base = await orderEnginesAvailable();
const status = Object.fromEntries(
  await Promise.all(ENGINES.map(async (engine) => [engine, await streamEngineStatus(engine)])),
) as Record<StreamEngine, boolean | Error>;

let dropBundle: (() => Promise<void>) | undefined;
beforeAll(async () => {
  dropBundle = await freshTaskflowBundle();
}, 60_000);
afterAll(() => dropBundle?.());

interface Notification {
  id: string;
  kind: string;
  data: { order_id: string; total_cents: number };
}

for (const engine of ENGINES) {
  const engineStatus = status[engine];
  describe.skipIf(!base || engineStatus === false)(`orders, event stream: ${engine}`, () => {
    let stack: OrdersStack;

    beforeAll(async () => {
      if (engineStatus instanceof Error) throw engineStatus;
      stack = await openOrdersStack(`orders_${engine}`, { streamUrl: streamUrlOf(engine) });
    }, 180_000);

    afterAll(async () => {
      // Cleanly first: the analytics role leaves its group (or lease) as a deployment would.
      await stack?.stop().catch(() => {});
      await stack?.cleanup();
    }, 60_000);

    it("when a customer places 200 orders, 50 of them invalid in ten ways, then each valid one gives exactly one notification, one confirmation email and its share of the analytics, to the cent, and no invalid one anything", async () => {
      const { customer, operator, smtp, sql } = stack;
      const catalog = await customer.client.request<
        { sku: string; name: string; price_cents: number; currency: string }[]
      >("GET", "/api/products");
      expect(catalog.status).toBe(200);
      const product = new Map(catalog.body.map((p) => [p.sku, p]));
      expect(product.get(USD_PRODUCT.sku)?.currency).toBe("USD");

      // The figures before: what the stream held already (a shared engine's earlier runs).
      const baseline = await analyticsBaseline(stack);

      const { valid, invalid } = orderWorkload({ valid: 150, invalid: 50 });
      const mixed = interleave(valid, invalid);
      expect(mixed).toHaveLength(200);
      const answers = await placeOrders(
        customer.client,
        mixed.map((m) => m.order),
        { concurrency: 8 },
      );

      // Each answer as the validator's rules and the catalog's prices say.
      const wrong: unknown[] = [];
      const accepted: PlacedOrder[] = [];
      for (const [i, m] of mixed.entries()) {
        const answer = answers[i];
        if (!answer) {
          wrong.push({ i, missing: true });
        } else if (m.valid) {
          const want = priced(m.order, product);
          if (answer.status !== 201) {
            wrong.push({ i, status: answer.status, body: answer.body });
            continue;
          }
          accepted.push(answer.body);
          if (answer.body.total_cents !== want.total || answer.body.currency !== want.currency) {
            wrong.push({ i, want, got: answer.body });
          }
        } else {
          const paths = ((answer.body as { errors?: { path: string }[] }).errors ?? []).map(
            (e) => e.path,
          );
          if (answer.status !== 422 || !m.paths.every((p) => paths.includes(p))) {
            wrong.push({ i, why: m.why, status: answer.status, paths, want: m.paths });
          }
        }
      }
      expect(wrong).toEqual([]);
      expect(accepted).toHaveLength(150);
      const ids = accepted.map((o) => o.id);
      expect(repeated(ids)).toEqual({});
      const byId = new Map(accepted.map((o) => [o.id, o]));

      // Stored: exactly the accepted ones (an invalid order left no row).
      const listed = await allPages<PlacedOrder>(customer.client, "/api/orders");
      expect(listed.map((o) => o.id).sort()).toEqual([...ids].sort());
      const { rows } = await sql.query<{ owner: string; n: number }>(
        "SELECT owner_id AS owner, count(*)::int AS n FROM orders GROUP BY owner_id",
      );
      const sentinelOwner = rows.find((r) => r.owner !== customer.userId)?.owner;
      expect(Object.fromEntries(rows.map((r) => [r.owner, r.n]))).toEqual({
        [customer.userId]: 150,
        [String(sentinelOwner)]: baseline.sentinels.length,
      });

      // One notification per valid order, for its owner.
      const notifications = () => allPages<Notification>(customer.client, "/api/notifications");
      await waitForCount(async () => (await notifications()).length, 150, "150 notifications");
      const notified = await notifications();
      expect(notified).toHaveLength(150);
      expect(repeated(notified.map((n) => n.data.order_id))).toEqual({});
      expect(notified.map((n) => n.data.order_id).sort()).toEqual([...ids].sort());
      expect(
        notified.filter((n) => n.data.total_cents !== byId.get(n.data.order_id)?.total_cents),
      ).toEqual([]);

      // One confirmation email per valid order, to its owner, at the SMTP server; and none
      // else but the operator's for the sentinel orders.
      const email = customer.credentials.email;
      await waitForCount(
        () => confirmationEmails(smtp, email).length,
        150,
        "150 confirmation emails",
      );
      const emails = confirmationEmails(smtp, email);
      expect(emails).toHaveLength(150);
      const others = confirmationEmails(smtp).filter((e) => e.to.join() !== email);
      expect(others.map((e) => e.orderId).sort()).toEqual([...baseline.sentinels].sort());
      expect(repeated(emails.map((e) => e.orderId))).toEqual({});
      expect(repeated(emails.map((e) => e.messageId))).toEqual({});
      expect(emails.map((e) => e.orderId).sort()).toEqual([...ids].sort());
      const misaddressed = emails.filter(
        (e) =>
          e.to.join() !== customer.credentials.email ||
          e.subject !== confirmationSubject(byId.get(e.orderId as string) as PlacedOrder),
      );
      expect(misaddressed).toEqual([]);

      // The analytics, read from the event stream: every valid order once, to the cent.
      const want = expectedSummary(accepted);
      expect(Object.keys(want.revenue_cents).sort()).toEqual(["EUR", "USD"]);
      const base = baseline.summary;
      await waitForCount(
        async () => (await analyticsSummary(operator)).orders.count - base.orders.count,
        150,
        "150 orders in the analytics",
      );
      const gained = summaryGain(base, await analyticsSummary(operator));
      expect(gained.count).toBe(want.count);
      expect(gained.revenue_cents).toEqual(want.revenue_cents);
      expect(gained.top_products).toEqual(want.top_products);

      // And the customer may not read them.
      const refused = await customer.client.request("GET", "/api/analytics/summary");
      expect(refused.status).toBe(403);

      // Nothing left to publish.
      await waitFor(
        async () =>
          (await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox")).rows[0]?.n ===
          0,
        { timeoutMs: 15_000, what: "an empty outbox" },
      );
    }, 150_000);

    if (engine === "embedded") {
      it("when the validator is stopped, then POST /api/orders answers 503 with Retry-After and stores nothing; started again on the same port, orders flow again", async () => {
        const { customer, sql } = stack;
        const client: ApiClient = customer.client;
        const order: OrderRequest = { items: [{ sku: "HD-330", quantity: 2 }] };
        const key = "validator-outage-1";
        const ordersBefore = (await allPages<PlacedOrder>(client, "/api/orders")).map((o) => o.id);
        const count = async (table: "orders" | "outbox" | "notifications") =>
          (await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n;
        await waitFor(async () => (await count("outbox")) === 0, { what: "an empty outbox" });
        const stored = await count("orders");

        const { port } = stack.roles.validator;
        const exit = await stack.roles.validator.stop("SIGTERM");
        expect(exit).toEqual({ code: 0, signal: null });

        for (const attempt of [order, { items: [{ sku: "NOPE-1", quantity: 1 }] }]) {
          const answer = await client.request("POST", "/api/orders", attempt, {
            "idempotency-key": key,
          });
          expect(answer.status, JSON.stringify(answer.body)).toBe(503);
          expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
          expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        }
        // Nothing written: no order, no event, and the Idempotency-Key is still free.
        expect((await allPages<PlacedOrder>(client, "/api/orders")).map((o) => o.id)).toEqual(
          ordersBefore,
        );
        expect(await count("orders")).toBe(stored);
        expect(await count("outbox")).toBe(0);

        const validator = await stack.restart("validator");
        expect(validator.port).toBe(port);
        // The API's channel reconnects with backoff: retried as a client would, on 503.
        const placed = await waitFor(
          async () => {
            const answer = await client.request<PlacedOrder>("POST", "/api/orders", order, {
              "idempotency-key": key,
            });
            if (answer.status === 503) return undefined;
            return answer;
          },
          { timeoutMs: 30_000, intervalMs: 500, what: "an order accepted again" },
        );
        expect(placed.status, JSON.stringify(placed.body)).toBe(201);
        expect(placed.body.total_cents).toBe(2 * 19_999);
        const after = await allPages<PlacedOrder>(client, "/api/orders");
        expect(after.map((o) => o.id).sort()).toEqual([...ordersBefore, placed.body.id].sort());

        // …and on through the relay, the notifier and the mailer, once.
        await waitFor(
          () => confirmationEmails(stack.smtp).some((e) => e.orderId === placed.body.id),
          {
            timeoutMs: 30_000,
            what: "the confirmation email of the order after the outage",
          },
        );
        const notified = await allPages<Notification>(client, "/api/notifications");
        expect(notified.filter((n) => n.data.order_id === placed.body.id)).toHaveLength(1);
        expect(notified).toHaveLength(ordersBefore.length + 1);
      }, 90_000);
    }
  });
}

/** An order's total and currency from the catalog, as the validator must price it. */
function priced(
  order: OrderRequest,
  product: Map<string, { price_cents: number; currency: string }>,
) {
  let total = 0;
  for (const line of order.items)
    total += (product.get(line.sku)?.price_cents ?? NaN) * line.quantity;
  return { total, currency: product.get(order.items[0]?.sku ?? "")?.currency };
}
