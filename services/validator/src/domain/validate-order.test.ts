import { describe, expect, it } from "vitest";
import {
  type CatalogProduct,
  type CatalogSnapshot,
  MAX_ITEMS,
  skusOf,
  validateOrder,
} from "./validate-order.ts";

const product = (sku: string, priceCents: bigint, stock: number, currency = "EUR") =>
  ({ sku, name: `Product ${sku}`, priceCents, currency, stock }) satisfies CatalogProduct;

const catalog: CatalogSnapshot = new Map(
  [
    product("KB-101", 8_999n, 120),
    product("CB-USB", 1_299n, 1_000),
    product("LT-LED", 3_450n, 2),
    product("US-1", 1_000n, 50, "USD"),
  ].map((p) => [p.sku, p]),
);

const errorsOf = (result: ReturnType<typeof validateOrder>) =>
  result.valid ? [] : result.errors.map(({ field, code }) => ({ field, code }));

describe("validateOrder", () => {
  it("prices every item in integer cents, and totals them", () => {
    const result = validateOrder(
      {
        items: [
          { sku: "KB-101", quantity: 3 },
          { sku: "CB-USB", quantity: 7 },
        ],
        note: "leave at the door",
      },
      catalog,
    );
    expect(result).toEqual({
      valid: true,
      currency: "EUR",
      totalCents: 3n * 8_999n + 7n * 1_299n,
      lines: [
        {
          sku: "KB-101",
          name: "Product KB-101",
          quantity: 3,
          unitPriceCents: 8_999n,
          lineTotalCents: 26_997n,
        },
        {
          sku: "CB-USB",
          name: "Product CB-USB",
          quantity: 7,
          unitPriceCents: 1_299n,
          lineTotalCents: 9_093n,
        },
      ],
    });
  });

  it("stays exact beyond what floating point holds", () => {
    const big = new Map([["GOLD", product("GOLD", 9_007_199_254_740_993n, 1_000)]]);
    const result = validateOrder({ items: [{ sku: "GOLD", quantity: 1_000 }] }, big);
    expect(result.valid && result.totalCents).toBe(9_007_199_254_740_993_000n);
  });

  it("refuses an order without items", () => {
    expect(errorsOf(validateOrder({ items: [] }, catalog))).toEqual([
      { field: "items", code: "REQUIRED" },
    ]);
  });

  it(`refuses an order over ${MAX_ITEMS} items for that alone, reading no product`, () => {
    const items = Array.from({ length: MAX_ITEMS + 1 }, () => ({ sku: "NOPE", quantity: 0 }));
    expect(skusOf({ items })).toEqual([]);
    expect(errorsOf(validateOrder({ items }, catalog))).toEqual([
      { field: "items", code: "TOO_MANY" },
    ]);
    const atMost = items.slice(0, MAX_ITEMS).map(() => ({ sku: "CB-USB", quantity: 1 }));
    expect(validateOrder({ items: atMost }, catalog).valid).toBe(true);
  });

  it("refuses an unknown or missing SKU on its item", () => {
    const result = validateOrder(
      {
        items: [
          { sku: "KB-101", quantity: 1 },
          { sku: "NOPE", quantity: 1 },
          { sku: "", quantity: 1 },
        ],
      },
      catalog,
    );
    expect(errorsOf(result)).toEqual([
      { field: "items[1].sku", code: "UNKNOWN_SKU" },
      { field: "items[2].sku", code: "REQUIRED" },
    ]);
  });

  it.each([0, -1, 1_001, 1.5, Number.NaN])("refuses a quantity of %s", (quantity) => {
    expect(errorsOf(validateOrder({ items: [{ sku: "KB-101", quantity }] }, catalog))).toEqual([
      { field: "items[0].quantity", code: "OUT_OF_RANGE" },
    ]);
  });

  it("accepts the quantity bounds, 1 and 1000", () => {
    const items = [
      { sku: "CB-USB", quantity: 1 },
      { sku: "KB-101", quantity: 1 },
    ];
    expect(validateOrder({ items }, catalog).valid).toBe(true);
    expect(validateOrder({ items: [{ sku: "CB-USB", quantity: 1_000 }] }, catalog).valid).toBe(
      true,
    );
  });

  it("checks the stock against the quantities of one SKU summed over its items", () => {
    expect(validateOrder({ items: [{ sku: "LT-LED", quantity: 2 }] }, catalog).valid).toBe(true);
    const result = validateOrder(
      {
        items: [
          { sku: "LT-LED", quantity: 1 },
          { sku: "KB-101", quantity: 1 },
          { sku: "LT-LED", quantity: 2 },
        ],
      },
      catalog,
    );
    expect(errorsOf(result)).toEqual([
      { field: "items[0].quantity", code: "INSUFFICIENT_STOCK" },
      { field: "items[2].quantity", code: "INSUFFICIENT_STOCK" },
    ]);
    expect(result.valid || result.errors[0]?.message).toBe(
      "3 of LT-LED asked over items 0, 2, 2 in stock",
    );
  });

  it("refuses products in another currency than the order's first", () => {
    const result = validateOrder(
      {
        items: [
          { sku: "NOPE", quantity: 1 },
          { sku: "KB-101", quantity: 1 },
          { sku: "US-1", quantity: 1 },
        ],
      },
      catalog,
    );
    expect(errorsOf(result)).toEqual([
      { field: "items[0].sku", code: "UNKNOWN_SKU" },
      { field: "items[2].sku", code: "CURRENCY_MISMATCH" },
    ]);
  });

  it("refuses a note over 500 characters, counting characters rather than UTF-16 units", () => {
    const order = (note: string) => ({ items: [{ sku: "KB-101", quantity: 1 }], note });
    expect(validateOrder(order("🎁".repeat(500)), catalog).valid).toBe(true);
    expect(errorsOf(validateOrder(order("x".repeat(501)), catalog))).toEqual([
      { field: "note", code: "TOO_LONG" },
    ]);
  });

  it("lists every error at once, item by item", () => {
    const result = validateOrder(
      {
        items: [
          { sku: "NOPE", quantity: 0 },
          { sku: "KB-101", quantity: 5 },
          { sku: "LT-LED", quantity: 3 },
          { sku: "", quantity: 2_000 },
        ],
        note: "x".repeat(600),
      },
      catalog,
    );
    expect(errorsOf(result)).toEqual([
      { field: "items[0].sku", code: "UNKNOWN_SKU" },
      { field: "items[0].quantity", code: "OUT_OF_RANGE" },
      { field: "items[2].quantity", code: "INSUFFICIENT_STOCK" },
      { field: "items[3].sku", code: "REQUIRED" },
      { field: "items[3].quantity", code: "OUT_OF_RANGE" },
      { field: "note", code: "TOO_LONG" },
    ]);
  });

  it("names each SKU once for the catalog read", () => {
    expect(
      skusOf({
        items: [
          { sku: "A", quantity: 1 },
          { sku: "", quantity: 1 },
          { sku: "A", quantity: 2 },
          { sku: "B", quantity: 1 },
        ],
      }),
    ).toEqual(["A", "B"]);
  });
});
