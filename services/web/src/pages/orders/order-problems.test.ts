import { describe, expect, it } from "vitest";
import { ApiProblem } from "../../api/client.ts";
import type { CartLine } from "./cart.ts";
import { orderProblems } from "./order-problems.ts";

const line = (sku: string): CartLine => ({
  sku,
  name: sku,
  price_cents: 100,
  currency: "EUR",
  quantity: "1",
});
const cart = [line("A"), line("B")];
const refused = (errors: { path: string; message: string }[]) =>
  new ApiProblem({
    status: 422,
    title: "Unprocessable",
    detail: "the order cannot be placed",
    errors,
  });

describe("orderProblems", () => {
  it("puts each item's error on the line sent at that index, with or without /body", () => {
    expect(
      orderProblems(
        refused([
          { path: "/body/items/1/quantity", message: "too many" },
          { path: "/items/0/sku", message: "unknown" },
          { path: "/body/items/1/sku", message: "other currency" },
        ]),
        cart,
      ),
    ).toEqual({
      lines: { A: { product: "unknown" }, B: { quantity: "too many", product: "other currency" } },
      summary: ["The order cannot be placed: 2 lines of your cart need a change."],
    });
  });

  it("sends what names no line to the summary, and the note's error to the note", () => {
    expect(
      orderProblems(
        refused([
          { path: "/body/items", message: "at least one item" },
          { path: "/body/items/7/quantity", message: "no such line" },
          { path: "/body/note", message: "too long" },
        ]),
        cart,
      ),
    ).toEqual({
      lines: {},
      note: "too long",
      summary: [
        "The order cannot be placed.",
        "items: at least one item",
        "items/7/quantity: no such line",
      ],
    });
  });

  it("says when to try again after a 503, and what the problem says otherwise", () => {
    const away = new ApiProblem({
      status: 503,
      title: "Service Unavailable",
      retryAfterSeconds: 2,
    });
    expect(orderProblems(away, cart).summary).toEqual([
      "The validator is unavailable, try again in 2 s. Nothing was stored.",
    ]);
    expect(orderProblems(ApiProblem.unreachable(new TypeError("x")), cart).summary[0]).toMatch(
      /cannot be reached/,
    );
  });
});
