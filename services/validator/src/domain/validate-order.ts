/**
 * The order rules, as a pure function over a snapshot of the catalog: no I/O, no clock.
 * The gRPC handlers read the snapshot (only the SKUs an order names), call this, and map the
 * answer onto the contract's messages.
 */

export const MAX_ITEMS = 100;
export const MAX_QUANTITY = 1_000;
export const MAX_NOTE_LENGTH = 500;

/** A product as the rules see it. Money in integer cents (bigint, as the contract's int64). */
export interface CatalogProduct {
  sku: string;
  name: string;
  priceCents: bigint;
  /** ISO 4217. */
  currency: string;
  stock: number;
}

/** The products an order names, by SKU; an SKU missing from it is unknown. */
export type CatalogSnapshot = ReadonlyMap<string, CatalogProduct>;

/** Structurally the contract's Order message, so a decoded request is passed as it is. */
export interface OrderInput {
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  readonly note?: string | undefined;
}

export type FieldErrorCode =
  | "REQUIRED"
  | "TOO_MANY"
  | "UNKNOWN_SKU"
  | "OUT_OF_RANGE"
  | "INSUFFICIENT_STOCK"
  | "CURRENCY_MISMATCH"
  | "TOO_LONG";

export interface OrderFieldError {
  /** The path within the order: "items", "items[2].quantity", "note". */
  field: string;
  code: FieldErrorCode;
  message: string;
}

export interface PricedLine {
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: bigint;
  lineTotalCents: bigint;
}

export type OrderValidation =
  | { valid: true; lines: PricedLine[]; totalCents: bigint; currency: string }
  | { valid: false; errors: OrderFieldError[] };

/**
 * The distinct SKUs whose products `validateOrder` needs: none for an order refused on its
 * size alone, so a huge order never turns into a huge read.
 */
export function skusOf(order: OrderInput): string[] {
  if (order.items.length > MAX_ITEMS) return [];
  return [...new Set(order.items.map((item) => item.sku).filter((sku) => sku !== ""))];
}

/**
 * Checks an order against the catalog and prices it, or lists every field error at once:
 * at least one and at most MAX_ITEMS items; each SKU known; each quantity a whole number from
 * 1 to MAX_QUANTITY; for each SKU, the quantities of all its items together within its stock;
 * every product in the currency of the order's first known product; a note of at most
 * MAX_NOTE_LENGTH characters. An order over MAX_ITEMS items is refused for that alone.
 *
 * Nothing is reserved: the stock is read as it was when the snapshot was taken.
 */
export function validateOrder(order: OrderInput, catalog: CatalogSnapshot): OrderValidation {
  const errors: OrderFieldError[] = [];
  const { items } = order;

  if (items.length === 0) {
    errors.push({ field: "items", code: "REQUIRED", message: "an order needs at least one item" });
  } else if (items.length > MAX_ITEMS) {
    errors.push({
      field: "items",
      code: "TOO_MANY",
      message: `an order holds at most ${MAX_ITEMS} items (this one has ${items.length})`,
    });
  } else {
    errors.push(...itemErrors(order, catalog));
  }
  if (order.note !== undefined && longerThan(order.note, MAX_NOTE_LENGTH)) {
    errors.push({
      field: "note",
      code: "TOO_LONG",
      message: `the note holds at most ${MAX_NOTE_LENGTH} characters`,
    });
  }
  if (errors.length > 0) return { valid: false, errors };

  const lines = items.map((item) => {
    const product = catalog.get(item.sku) as CatalogProduct;
    return {
      sku: product.sku,
      name: product.name,
      quantity: item.quantity,
      unitPriceCents: product.priceCents,
      lineTotalCents: product.priceCents * BigInt(item.quantity),
    };
  });
  return {
    valid: true,
    lines,
    totalCents: lines.reduce((total, line) => total + line.lineTotalCents, 0n),
    currency: (catalog.get(items[0]?.sku ?? "") as CatalogProduct).currency,
  };
}

/** The errors of each item, in item order (sku before quantity). */
function itemErrors(order: OrderInput, catalog: CatalogSnapshot): OrderFieldError[] {
  const perItem: OrderFieldError[][] = order.items.map(() => []);
  const currency = order.items.map((item) => catalog.get(item.sku)).find(Boolean)?.currency;
  /** Per SKU: the quantity asked over all its (otherwise valid) items, and which items. */
  const asked = new Map<string, { quantity: number; items: number[] }>();

  order.items.forEach((item, i) => {
    const errors = perItem[i] as OrderFieldError[];
    const product = item.sku === "" ? undefined : catalog.get(item.sku);
    if (item.sku === "") {
      errors.push({ field: `items[${i}].sku`, code: "REQUIRED", message: "the SKU is required" });
    } else if (!product) {
      errors.push({
        field: `items[${i}].sku`,
        code: "UNKNOWN_SKU",
        message: "no product has this SKU",
      });
    } else if (product.currency !== currency) {
      errors.push({
        field: `items[${i}].sku`,
        code: "CURRENCY_MISMATCH",
        message: `${product.sku} is priced in ${product.currency}, the order in ${currency}`,
      });
    }
    const quantityValid =
      Number.isInteger(item.quantity) && item.quantity >= 1 && item.quantity <= MAX_QUANTITY;
    if (!quantityValid) {
      errors.push({
        field: `items[${i}].quantity`,
        code: "OUT_OF_RANGE",
        message: `the quantity must be a whole number from 1 to ${MAX_QUANTITY}`,
      });
    }
    if (product && quantityValid) {
      const sum = asked.get(product.sku) ?? { quantity: 0, items: [] };
      sum.quantity += item.quantity;
      sum.items.push(i);
      asked.set(product.sku, sum);
    }
  });

  for (const [sku, sum] of asked) {
    const { stock } = catalog.get(sku) as CatalogProduct;
    if (sum.quantity <= stock) continue;
    const over = sum.items.length > 1 ? ` over items ${sum.items.join(", ")}` : "";
    for (const i of sum.items) {
      perItem[i]?.push({
        field: `items[${i}].quantity`,
        code: "INSUFFICIENT_STOCK",
        message: `${sum.quantity} of ${sku} asked${over}, ${stock} in stock`,
      });
    }
  }
  return perItem.flat();
}

/** Counted in Unicode code points, not UTF-16 units: an emoji is one character. */
function longerThan(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let count = 0;
  for (const _ of text) if (++count > max) return true;
  return false;
}
