import * as grpc from "@grpc/grpc-js";
import { freePort } from "@taskflow/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createValidatorClient, ValidatorUnavailableError } from "../src/index.ts";
import { startValidator, type TestValidator } from "./validator-fixture.ts";

const anOrder = { items: [{ sku: "HB-700", quantity: 2 }] };

describe("createValidatorClient (for the orders API)", () => {
  let v: TestValidator;
  beforeAll(async () => {
    v = await startValidator();
  });
  afterAll(() => v?.close());

  it("validates an order with the token its provider gives, per call", async () => {
    let asked = 0;
    const client = createValidatorClient(v.url, async () => {
      asked++;
      return v.token;
    });
    try {
      const response = await client.validateOrder(anOrder);
      expect(response.outcome.case === "priced" && response.outcome.value.totalCents).toBe(9_180n);
      const invalid = await client.validateOrder({ items: [] });
      expect(invalid.outcome.case).toBe("invalid");
      expect(asked).toBe(2);
    } finally {
      client.close();
    }
  });

  it("rejects with ValidatorUnavailableError (UNAVAILABLE) when nothing listens", async () => {
    const client = createValidatorClient(`127.0.0.1:${await freePort()}`, () => v.token);
    try {
      const error = await client.validateOrder(anOrder).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidatorUnavailableError);
      expect((error as ValidatorUnavailableError).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      client.close();
    }
  });

  it("rejects with ValidatorUnavailableError (DEADLINE_EXCEEDED) when the answer is late", async () => {
    const client = createValidatorClient(v.url, () => v.token, { timeoutMs: 100 });
    v.control.catalogDelayMs = 300;
    try {
      const error = await client.validateOrder(anOrder).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidatorUnavailableError);
      expect((error as ValidatorUnavailableError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      v.control.catalogDelayMs = 0;
      client.close();
    }
  });

  it("lets other failures through as they are: a refused token is not an outage", async () => {
    const client = createValidatorClient(v.url, () => "not-a-token");
    try {
      const error = await client.validateOrder(anOrder).catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(ValidatorUnavailableError);
      expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });
});
