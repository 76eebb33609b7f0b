import { createOrderRepository, type NewOrder } from "@taskflow/orders";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppFixture, openAppFixture, signUp } from "./app-fixture.ts";

let f: AppFixture | undefined;
beforeAll(async () => {
  f = await openAppFixture({ validator: true });
});
afterAll(async () => {
  await f?.close();
});

const fixture = () => {
  if (!f) throw new Error("PostgreSQL fixture unavailable");
  return f;
};

async function place(
  auth: Record<string, string>,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return fixture().app.inject({
    method: "POST",
    url: "/api/orders",
    headers: { ...auth, ...headers },
    payload: body as object,
  });
}

const count = async (table: "orders" | "outbox") =>
  Number(
    (
      await fixture()
        .database.db.selectFrom(table)
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe("POST /api/orders", () => {
  it("asks the validator, stores the order priced to the cent, and its order.created event for the bus and the stream", async () => {
    const { app, database } = fixture();
    const user = await signUp(app);
    const res = await place(user.auth, {
      items: [
        { sku: "KB-101", quantity: 2 },
        { sku: "CB-USB", quantity: 3 },
      ],
      note: "gift wrap",
    });
    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(order).toEqual({
      id: expect.any(String),
      status: "CONFIRMED",
      items: [
        {
          sku: "KB-101",
          name: "Mechanical keyboard",
          quantity: 2,
          unit_price_cents: 8_999,
          line_total_cents: 17_998,
        },
        {
          sku: "CB-USB",
          name: "USB-C cable, 2 m",
          quantity: 3,
          unit_price_cents: 1_299,
          line_total_cents: 3_897,
        },
      ],
      total_cents: 21_895,
      currency: "EUR",
      note: "gift wrap",
      created_at: expect.any(String),
    });
    expect(res.headers.location).toBe(`/api/orders/${order.id}`);
    const events = await database.db
      .selectFrom("outbox")
      .select(["destination", "message_key", "payload"])
      .where("payload", "@>", JSON.stringify({ data: { order_id: order.id } }) as never)
      .orderBy("id")
      .execute();
    expect(events.map((e) => [e.destination, e.message_key])).toEqual([
      ["event-bus", "order.created"],
      ["event-stream:orders", order.id],
    ]);
    const [bus, stream] = events;
    expect(bus?.payload).toEqual(stream?.payload);
    expect(bus?.payload).toMatchObject({
      type: "order.created",
      schema_version: 1,
      data: { order_id: order.id, owner_id: user.id, total_cents: 21_895, currency: "EUR" },
    });
    const got = await app.inject({ url: `/api/orders/${order.id}`, headers: user.auth });
    expect(got.json()).toEqual(order);
  });

  it("answers 422 with the validator's field errors, each at its line, and writes nothing", async () => {
    const user = await signUp(fixture().app);
    const [orders, outbox] = [await count("orders"), await count("outbox")];
    const res = await place(user.auth, {
      items: [
        { sku: "KB-101", quantity: 1 },
        { sku: "NOPE-1", quantity: 1 },
        { sku: "MS-201", quantity: 0 },
        { sku: "LT-LED", quantity: 50 },
      ],
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    const paths = (res.json().errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual([
      "/body/items/1/sku",
      "/body/items/2/quantity",
      "/body/items/3/quantity",
    ]);
    expect(await count("orders")).toBe(orders);
    expect(await count("outbox")).toBe(outbox);
    const empty = await place(user.auth, { items: [] });
    expect(empty.statusCode).toBe(422);
    const typo = await place(user.auth, { items: [{ sku: "KB-101", quantity: "two" }] });
    expect(typo.statusCode).toBe(422);
  });

  it("answers 503 with Retry-After while the validator is down, writing nothing; orders flow once it is back", async () => {
    const { validator } = fixture();
    const user = await signUp(fixture().app);
    const [orders, outbox] = [await count("orders"), await count("outbox")];
    await validator?.stop();
    try {
      const res = await place(user.auth, { items: [{ sku: "MS-201", quantity: 1 }] });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("2");
      expect(res.headers["content-type"]).toContain("application/problem+json");
      expect(await count("orders")).toBe(orders);
      expect(await count("outbox")).toBe(outbox);
      expect(
        (await fixture().app.inject({ url: "/api/products", headers: user.auth })).statusCode,
      ).toBe(503);
    } finally {
      await validator?.start();
    }
    let placed = 0;
    for (let i = 0; i < 50 && placed !== 201; i++) {
      placed = (await place(user.auth, { items: [{ sku: "MS-201", quantity: 1 }] })).statusCode;
      if (placed !== 201) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(placed).toBe(201);
  });

  it("returns the first answer again for the same Idempotency-Key, 409 with another body", async () => {
    const user = await signUp(fixture().app);
    const body = { items: [{ sku: "HB-700", quantity: 1 }] };
    const key = { "idempotency-key": `order-${Date.now()}` };
    const first = await place(user.auth, body, key);
    const again = await place(user.auth, body, key);
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json().id).toBe(first.json().id);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    const other = await place(user.auth, { items: [{ sku: "HB-700", quantity: 2 }] }, key);
    expect(other.statusCode).toBe(409);
  });

  it("answers orders placed at the same time each with an order of its own and its two events", async () => {
    const user = await signUp(fixture().app);
    const [ordersBefore, outboxBefore] = [await count("orders"), await count("outbox")];
    const bodies = [1, 2, 3, 4, 5].map((quantity) => ({ items: [{ sku: "HB-700", quantity }] }));
    const answers = await Promise.all(bodies.map((body) => place(user.auth, body)));
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(answers.map((a) => a.json().id)).size).toBe(5);
    expect(answers.map((a) => a.json().items[0].quantity)).toEqual([1, 2, 3, 4, 5]);
    expect(await count("orders")).toBe(ordersBefore + 5);
    expect(await count("outbox")).toBe(outboxBefore + 10);
  });
});

describe("storing a batch of orders", () => {
  it("stores the first of the inputs that share an Idempotency-Key and replays it to the others (409 outcome for another body)", async () => {
    const user = await signUp(fixture().app);
    const orders = createOrderRepository(fixture().database.db);
    const order = (key: string | undefined, hash: string | undefined): NewOrder => ({
      ownerId: user.id,
      items: [
        {
          sku: "HB-700",
          name: "Headphones",
          quantity: 1,
          unit_price_cents: 100,
          line_total_cents: 100,
        },
      ],
      totalCents: 100,
      currency: "EUR",
      note: null,
      idempotencyKey: key,
      requestHash: hash,
    });
    const key = `batch-${Date.now()}`;
    const outboxBefore = await count("outbox");
    const outcomes = await orders.createMany([
      order(key, "body-a"),
      order(undefined, undefined),
      order(key, "body-a"),
      order(key, "body-b"),
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(["created", "created", "replayed", "key_reused"]);
    const [first, other, replayed, refused] = outcomes.map((o) => o.order.id);
    expect(replayed).toBe(first);
    expect(refused).toBe(first);
    expect(other).not.toBe(first);
    // Events for the two stored orders only.
    expect(await count("outbox")).toBe(outboxBefore + 4);
    // A later batch with the key replays the stored order.
    const [later] = await orders.createMany([order(key, "body-a")]);
    expect(later).toMatchObject({ kind: "replayed", order: { id: first } });
  });
});

describe("reading orders and products", () => {
  it("shows an order to its owner only, lists them newest first page by page", async () => {
    const { app } = fixture();
    const [ann, bob] = [await signUp(app), await signUp(app)];
    const ids: string[] = [];
    for (const quantity of [1, 2, 3]) {
      ids.push((await place(ann.auth, { items: [{ sku: "MP-XL", quantity }] })).json().id);
    }
    const theirs = await app.inject({ url: `/api/orders/${ids[0]}`, headers: bob.auth });
    expect(theirs.statusCode).toBe(404);
    expect((await app.inject({ url: "/api/orders/not-an-id", headers: ann.auth })).statusCode).toBe(
      404,
    );
    const page1 = (await app.inject({ url: "/api/orders?limit=2", headers: ann.auth })).json();
    expect(page1.items.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
    const page2 = (
      await app.inject({
        url: `/api/orders?limit=2&cursor=${page1.next_cursor}`,
        headers: ann.auth,
      })
    ).json();
    expect(page2.items.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
    expect(page2.next_cursor).toBeNull();
    expect((await app.inject({ url: "/api/orders" })).statusCode).toBe(401);
  });

  it("lists the validator's catalog", async () => {
    const user = await signUp(fixture().app);
    const res = await fixture().app.inject({ url: "/api/products", headers: user.auth });
    expect(res.statusCode).toBe(200);
    const products = res.json() as { sku: string; price_cents: number; stock: number }[];
    expect(products.length).toBeGreaterThanOrEqual(12);
    expect(products.find((p) => p.sku === "KB-101")).toMatchObject({
      price_cents: 8_999,
      currency: "EUR",
    });
  });
});
