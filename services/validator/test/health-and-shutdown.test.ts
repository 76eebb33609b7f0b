import * as grpc from "@grpc/grpc-js";
import { CatalogService, OrderValidationService } from "@taskflow/contracts";
import { waitFor } from "@taskflow/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  check,
  type HealthClient,
  healthClient,
  type MigratedDatabase,
  migratedDatabase,
  type ServingStatus,
  startValidator,
  statusOf,
  type TestValidator,
} from "./validator-fixture.ts";

const anOrder = { order: { items: [{ sku: "KB-101", quantity: 1 }] } };

describe("health and shutdown", () => {
  // One database for the file; a server of its own for each test.
  let database: MigratedDatabase;
  beforeAll(async () => {
    database = await migratedDatabase();
  });
  afterAll(() => database?.close());
  let v: TestValidator | undefined;
  let health: HealthClient | undefined;
  afterEach(async () => {
    health?.close();
    await v?.close();
    v = undefined;
  });

  it("is SERVING while ready, for the server and each service, without a token", async () => {
    v = await startValidator({ database });
    health = healthClient(v.url);
    for (const service of ["", OrderValidationService.typeName, CatalogService.typeName]) {
      expect(await check(health, service)).toBe("SERVING");
    }
    expect(await statusOf(check(health, "no.such.Service"))).toBe(grpc.status.NOT_FOUND);
  });

  it("turns NOT_SERVING while its database is away, and SERVING again when it is back", async () => {
    v = await startValidator({ database });
    const client = healthClient(v.url);
    health = client;
    v.control.databaseUp = false;
    await waitFor(async () => (await check(client, "")) === "NOT_SERVING", {
      what: "NOT_SERVING",
    });
    v.control.databaseUp = true;
    await waitFor(async () => (await check(client, "")) === "SERVING", { what: "SERVING" });
  });

  it("turns NOT_SERVING when shutting down, finishes the calls in flight, then refuses new ones", async () => {
    v = await startValidator({ database });
    const validator = v;
    health = healthClient(v.url);
    const statuses: ServingStatus[] = [];
    const watch = health.watch({ service: "" });
    watch.on("data", (response: { status: ServingStatus }) => statuses.push(response.status));
    watch.on("error", () => {}); // cancelled below
    await waitFor(() => statuses.includes("SERVING"), { what: "SERVING" });

    validator.control.catalogDelayMs = 400;
    const inFlight = validator.validation.validateOrder(anOrder, validator.authorized());
    await waitFor(() => validator.server.stats.inFlight === 1, { what: "the call in flight" });
    const stopped = validator.server.shutdown(5_000);

    await waitFor(() => statuses.at(-1) === "NOT_SERVING", { what: "NOT_SERVING" });
    expect(statuses).toEqual(["SERVING", "NOT_SERVING"]);
    expect((await inFlight).outcome.case).toBe("priced");
    watch.cancel(); // a watch never ends by itself: it would hold the shutdown to its bound
    await stopped;

    const fresh = validator.validation.validateOrder(anOrder, {
      ...validator.authorized(),
      timeoutMs: 1_000,
    });
    expect(await statusOf(fresh)).toBe(grpc.status.UNAVAILABLE);
  });

  it("cancels the calls that outlive the shutdown's grace", async () => {
    v = await startValidator({ database });
    const validator = v;
    validator.control.catalogDelayMs = 3_000;
    const inFlight = statusOf(
      validator.validation.validateOrder(anOrder, { ...validator.authorized(), timeoutMs: 10_000 }),
    );
    await waitFor(() => validator.server.stats.inFlight === 1, { what: "the call in flight" });
    const started = Date.now();
    await validator.server.shutdown(200);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect([grpc.status.CANCELLED, grpc.status.UNAVAILABLE]).toContain(await inFlight);
  });
});
