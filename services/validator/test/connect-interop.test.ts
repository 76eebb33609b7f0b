import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { CatalogService, OrderValidationService } from "@taskflow/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startValidator, type TestValidator } from "./validator-fixture.ts";

/**
 * Interoperability: another gRPC implementation (Connect for Node, speaking the gRPC protocol
 * over HTTP/2) calls the grpc-js server with the same generated descriptors. What passes here
 * is the wire format, not one library agreeing with itself.
 */
describe("a Connect client (gRPC over HTTP/2) calling the grpc-js validator", () => {
  let v: TestValidator;
  let session: Http2SessionManager;
  let validation: ReturnType<typeof createClient<typeof OrderValidationService>>;
  let catalog: ReturnType<typeof createClient<typeof CatalogService>>;
  const auth = () => ({ headers: { authorization: `Bearer ${v.token}` }, timeoutMs: 5_000 });

  beforeAll(async () => {
    v = await startValidator();
    session = new Http2SessionManager(`http://${v.url}`);
    // connect-node 2's gRPC transport is HTTP/2 only (no httpVersion option to set).
    const transport = createGrpcTransport({ baseUrl: `http://${v.url}`, sessionManager: session });
    validation = createClient(OrderValidationService, transport);
    catalog = createClient(CatalogService, transport);
  });
  afterAll(async () => {
    session?.abort();
    await v?.close();
  });

  it("gets a valid order priced, in int64 cents", async () => {
    const response = await validation.validateOrder(
      { order: { items: [{ sku: "MN-270", quantity: 2 }] } },
      auth(),
    );
    expect(response.outcome.case).toBe("priced");
    expect(response.outcome.case === "priced" && response.outcome.value).toMatchObject({
      totalCents: 55_800n,
      currency: "EUR",
      lines: [{ sku: "MN-270", quantity: 2, unitPriceCents: 27_900n, lineTotalCents: 55_800n }],
    });
  });

  it("gets the field errors of an invalid order", async () => {
    const response = await validation.validateOrder(
      { order: { items: [{ sku: "MN-270", quantity: 0 }] } },
      auth(),
    );
    expect(response.outcome.case === "invalid" && response.outcome.value.errors).toMatchObject([
      { field: "items[0].quantity" },
    ]);
  });

  it("streams a batch both ways", async () => {
    async function* requests() {
      for (let i = 0; i < 10; i++) {
        yield { correlationId: `c${i}`, order: { items: [{ sku: "MS-201", quantity: i + 1 }] } };
      }
    }
    const totals: [string, bigint | undefined][] = [];
    for await (const response of validation.validateOrders(requests(), auth())) {
      totals.push([
        response.correlationId,
        response.outcome.case === "priced" ? response.outcome.value.totalCents : undefined,
      ]);
    }
    expect(totals).toEqual(Array.from({ length: 10 }, (_, i) => [`c${i}`, 2_950n * BigInt(i + 1)]));
  });

  it("lists the catalog", async () => {
    const page = await catalog.listProducts({ pageSize: 3 }, auth());
    expect(page.products.map((p) => p.sku)).toEqual(["CB-USB", "CH-500", "DS-400"]);
    expect(page.nextPageToken).not.toBe("");
  });

  it("sees UNAUTHENTICATED and DEADLINE_EXCEEDED as Connect codes", async () => {
    const order = { order: { items: [{ sku: "MS-201", quantity: 1 }] } };
    const unauthenticated = await validation.validateOrder(order).catch((e: unknown) => e);
    expect(ConnectError.from(unauthenticated).code).toBe(Code.Unauthenticated);
    v.control.catalogDelayMs = 300;
    try {
      const late = await validation
        .validateOrder(order, { ...auth(), timeoutMs: 100 })
        .catch((e: unknown) => e);
      expect(ConnectError.from(late).code).toBe(Code.DeadlineExceeded);
    } finally {
      v.control.catalogDelayMs = 0;
    }
  });
});
