import type { MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createTokenService } from "@taskflow/auth";
import type { ValidateOrdersRequestSchema } from "@taskflow/contracts";
import {
  FieldErrorCode,
  type ValidateOrderResponse,
  type ValidateOrdersResponse,
} from "@taskflow/contracts";
import { engineAvailable, waitFor } from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADA,
  type Engine,
  startValidator,
  statusOf,
  type TestValidator,
} from "./validator-fixture.ts";

const postgresUp = await engineAvailable("postgres");

const errorsOf = (response: ValidateOrderResponse | ValidateOrdersResponse) =>
  response.outcome.case === "invalid"
    ? response.outcome.value.errors.map((e) => ({ field: e.field, code: FieldErrorCode[e.code] }))
    : response.outcome.case;

async function streamOrders(
  v: TestValidator,
  requests: MessageInitShape<typeof ValidateOrdersRequestSchema>[],
  options = v.authorized(),
): Promise<ValidateOrdersResponse[]> {
  const call = v.validation.validateOrders(options);
  const responses: ValidateOrdersResponse[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    call.on("data", (response: ValidateOrdersResponse) => responses.push(response));
    call.on("end", resolve);
    call.on("error", reject);
  });
  for (const request of requests) call.write(request);
  call.end();
  await finished;
  return responses;
}

describe.each<Engine>(["pglite", "postgres"])("the validator on %s", (engine) => {
  describe.skipIf(engine === "postgres" && !postgresUp)("over gRPC", () => {
    let v: TestValidator;
    beforeAll(async () => {
      v = await startValidator({ engine });
      // One product in another currency, for the currency rule.
      await v.database.db
        .insertInto("products")
        .values({
          sku: "US-KB",
          name: "US keyboard",
          price_cents: 9_500,
          currency: "USD",
          stock: 9,
        })
        .execute();
    });
    afterAll(() => v?.close());

    const validate = (order: MessageInitShape<typeof ValidateOrdersRequestSchema>["order"]) =>
      v.validation.validateOrder({ order }, v.authorized());

    describe("ValidateOrder", () => {
      it("prices a valid order to the cent, in int64 cents", async () => {
        const response = await validate({
          items: [
            { sku: "KB-101", quantity: 3 },
            { sku: "CB-USB", quantity: 7 },
            { sku: "LT-LED", quantity: 2 },
          ],
          note: "ring twice",
        });
        expect(response.outcome.case).toBe("priced");
        const priced = response.outcome.value as Extract<
          ValidateOrderResponse["outcome"],
          { case: "priced" }
        >["value"];
        expect(priced.currency).toBe("EUR");
        expect(priced.totalCents).toBe(3n * 8_999n + 7n * 1_299n + 2n * 3_450n);
        expect(
          priced.lines.map(({ sku, name, quantity, unitPriceCents, lineTotalCents }) => ({
            sku,
            name,
            quantity,
            unitPriceCents,
            lineTotalCents,
          })),
        ).toEqual([
          {
            sku: "KB-101",
            name: "Mechanical keyboard",
            quantity: 3,
            unitPriceCents: 8_999n,
            lineTotalCents: 26_997n,
          },
          {
            sku: "CB-USB",
            name: "USB-C cable, 2 m",
            quantity: 7,
            unitPriceCents: 1_299n,
            lineTotalCents: 9_093n,
          },
          {
            sku: "LT-LED",
            name: "LED desk lamp",
            quantity: 2,
            unitPriceCents: 3_450n,
            lineTotalCents: 6_900n,
          },
        ]);
      });

      it.each([
        ["no order at all", undefined, [{ field: "items", code: "REQUIRED" }]],
        ["no items", { items: [] }, [{ field: "items", code: "REQUIRED" }]],
        [
          "101 items",
          { items: Array.from({ length: 101 }, () => ({ sku: "CB-USB", quantity: 1 })) },
          [{ field: "items", code: "TOO_MANY" }],
        ],
        [
          "an unknown SKU",
          {
            items: [
              { sku: "KB-101", quantity: 1 },
              { sku: "NOPE-1", quantity: 1 },
            ],
          },
          [{ field: "items[1].sku", code: "UNKNOWN_SKU" }],
        ],
        [
          "an item without a SKU",
          { items: [{ sku: "", quantity: 1 }] },
          [{ field: "items[0].sku", code: "REQUIRED" }],
        ],
        [
          "quantities out of 1–1000",
          {
            items: [
              { sku: "KB-101", quantity: 0 },
              { sku: "CB-USB", quantity: 1_001 },
            ],
          },
          [
            { field: "items[0].quantity", code: "OUT_OF_RANGE" },
            { field: "items[1].quantity", code: "OUT_OF_RANGE" },
          ],
        ],
        [
          "more than the stock, summed over the items of one SKU",
          {
            items: [
              { sku: "LT-LED", quantity: 1 },
              { sku: "LT-LED", quantity: 2 },
            ],
          },
          [
            { field: "items[0].quantity", code: "INSUFFICIENT_STOCK" },
            { field: "items[1].quantity", code: "INSUFFICIENT_STOCK" },
          ],
        ],
        [
          "two currencies",
          {
            items: [
              { sku: "KB-101", quantity: 1 },
              { sku: "US-KB", quantity: 1 },
            ],
          },
          [{ field: "items[1].sku", code: "CURRENCY_MISMATCH" }],
        ],
        [
          "a note over 500 characters",
          { items: [{ sku: "KB-101", quantity: 1 }], note: "x".repeat(501) },
          [{ field: "note", code: "TOO_LONG" }],
        ],
        [
          "several problems (every one is listed)",
          {
            items: [
              { sku: "NOPE-1", quantity: 1 },
              { sku: "CH-500", quantity: 4 },
              { sku: "KB-101", quantity: -3 },
            ],
          },
          [
            { field: "items[0].sku", code: "UNKNOWN_SKU" },
            { field: "items[1].quantity", code: "INSUFFICIENT_STOCK" },
            { field: "items[2].quantity", code: "OUT_OF_RANGE" },
          ],
        ],
      ])("answers field errors for %s", async (_name, order, expected) => {
        const response = await validate(order);
        expect(errorsOf(response)).toEqual(expected);
        if (response.outcome.case === "invalid") {
          for (const error of response.outcome.value.errors) expect(error.message).not.toBe("");
        }
      });

      it("reads the stock without reserving it", async () => {
        const order = { items: [{ sku: "CH-500", quantity: 3 }] };
        expect((await validate(order)).outcome.case).toBe("priced");
        expect((await validate(order)).outcome.case).toBe("priced");
        const row = await v.database.db
          .selectFrom("products")
          .select("stock")
          .where("sku", "=", "CH-500")
          .executeTakeFirstOrThrow();
        expect(row.stock).toBe(3);
      });
    });

    describe("ValidateOrders (bidirectional stream)", () => {
      it("answers every order in order, with its correlation id, reading the catalog per batch", async () => {
        const requests: MessageInitShape<typeof ValidateOrdersRequestSchema>[] = Array.from(
          { length: 60 },
          (_, i) => ({
            correlationId: `order-${i}`,
            order: {
              items:
                i % 3 === 0
                  ? [{ sku: "NOPE-1", quantity: 1 }]
                  : [{ sku: i % 2 ? "KB-101" : "MS-201", quantity: (i % 5) + 1 }],
            },
          }),
        );
        const readsBefore = v.control.catalogReads;
        const responses = await streamOrders(v, requests);
        expect(responses.map((r) => r.correlationId)).toEqual(requests.map((r) => r.correlationId));
        responses.forEach((response, i) => {
          if (i % 3 === 0) {
            expect(errorsOf(response)).toEqual([{ field: "items[0].sku", code: "UNKNOWN_SKU" }]);
          } else {
            const price = i % 2 ? 8_999n : 2_950n;
            expect(response.outcome.case === "priced" && response.outcome.value.totalCents).toBe(
              price * BigInt((i % 5) + 1),
            );
          }
        });
        expect(v.control.catalogReads - readsBefore).toBeLessThan(requests.length);
      });

      it("ends at once, OK, for an empty stream", async () => {
        expect(await streamOrders(v, [])).toEqual([]);
      });

      it("refuses a stream without a valid token", async () => {
        const refused = streamOrders(
          v,
          [{ correlationId: "a", order: { items: [{ sku: "KB-101", quantity: 1 }] } }],
          { metadata: new grpc.Metadata(), timeoutMs: 5_000 },
        );
        expect(await statusOf(refused)).toBe(grpc.status.UNAUTHENTICATED);
      });
    });

    describe("ListProducts", () => {
      it("lists the seeded catalog by SKU, a page at a time", async () => {
        const seen: string[] = [];
        let pageToken = "";
        let pages = 0;
        do {
          const page = await v.catalog.listProducts({ pageSize: 5, pageToken }, v.authorized());
          expect(page.products.length).toBeLessThanOrEqual(5);
          seen.push(...page.products.map((p) => p.sku));
          pageToken = page.nextPageToken;
          pages++;
        } while (pageToken);
        expect(pages).toBe(3); // 12 seeded + US-KB
        expect(seen).toEqual([...seen].sort());
        expect(seen).toHaveLength(13);
        const all = await v.catalog.listProducts({}, v.authorized());
        expect(all.nextPageToken).toBe("");
        expect(all.products.find((p) => p.sku === "MN-270")).toMatchObject({
          name: "27-inch monitor",
          priceCents: 27_900n,
          currency: "EUR",
          stock: 40,
        });
        expect(all.products.filter((p) => p.stock <= 5).map((p) => p.sku)).toEqual([
          "CH-500",
          "LT-LED",
        ]);
      });

      it("refuses a page token it did not give, and a negative page size", async () => {
        for (const request of [{ pageToken: "garbage!" }, { pageSize: -1 }]) {
          expect(await statusOf(v.catalog.listProducts(request, v.authorized()))).toBe(
            grpc.status.INVALID_ARGUMENT,
          );
        }
      });
    });

    describe("authentication", () => {
      it("answers UNAUTHENTICATED without a token, with a forged, malformed or expired one", async () => {
        const forged = await createTokenService({
          secret: "another-secret-that-is-long-enough-for-hs256",
          ttlSeconds: 60,
        }).issue(ADA);
        const expired = await createTokenService({
          secret: "a-test-secret-that-is-long-enough-for-hs256",
          ttlSeconds: 60,
          now: () => Date.now() - 120_000,
        }).issue(ADA);
        const order = { order: { items: [{ sku: "KB-101", quantity: 1 }] } };
        const attempts = [
          { metadata: new grpc.Metadata(), timeoutMs: 5_000 },
          v.authorized(`Bearer ${forged.access_token}`),
          v.authorized(`Bearer ${expired.access_token}`),
          v.authorized(`Basic ${Buffer.from("ada:pw").toString("base64")}`),
          v.authorized("Bearer"),
        ];
        for (const options of attempts) {
          expect(await statusOf(v.validation.validateOrder(order, options))).toBe(
            grpc.status.UNAUTHENTICATED,
          );
          expect(await statusOf(v.catalog.listProducts({}, options))).toBe(
            grpc.status.UNAUTHENTICATED,
          );
        }
      });
    });

    describe("deadlines", () => {
      it("answers DEADLINE_EXCEEDED when the deadline expires, and drops the work", async () => {
        const before = { ...v.server.stats };
        v.control.catalogDelayMs = 300;
        try {
          const call = v.validation.validateOrder(
            { order: { items: [{ sku: "KB-101", quantity: 1 }] } },
            { ...v.authorized(), timeoutMs: 100 },
          );
          expect(await statusOf(call)).toBe(grpc.status.DEADLINE_EXCEEDED);
          // The handler notices after the slow read, and goes no further.
          await waitFor(() => v.server.stats.abandoned > before.abandoned, {
            what: "the handler to abandon the call",
          });
          expect(v.server.stats.processed).toBe(before.processed);
          expect(v.server.stats.inFlight).toBe(0);
        } finally {
          v.control.catalogDelayMs = 0;
        }
      });
    });
  });
});
