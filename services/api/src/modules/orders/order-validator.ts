import type { OrderLine } from "@taskflow/orders";

/**
 * What the orders API needs from the validator service (gRPC in production; the adapter is
 * services/validator's client). Kept to the use case's words, so the routes and their tests
 * do not depend on the wire.
 */
export interface OrderValidator {
  validate(
    order: { items: readonly { sku: string; quantity: number }[]; note?: string | undefined },
    options: {
      deadlineMs: number;
      /** The caller's W3C trace context: the validator's spans join its trace. */
      traceparent?: string | undefined;
    },
  ): Promise<ValidationOutcome>;
  listProducts(options: { deadlineMs: number }): Promise<Product[]>;
}

export type ValidationOutcome =
  | { ok: true; items: OrderLine[]; totalCents: number; currency: string }
  | { ok: false; errors: FieldError[] };

export interface FieldError {
  /** Where, as the validator names it: `items[2].quantity`, `items`, `currency`. */
  field: string;
  code: string;
  message: string;
}

export interface Product {
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  stock: number;
}

/** The validator could not be reached in time (down, or past the deadline). */
export class ValidatorUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ValidatorUnavailable";
  }
}

/** `items[2].quantity` → `/body/items/2/quantity` (a JSON pointer into the request). */
export function fieldToPointer(field: string): string {
  const parts = field
    .split(/[.[\]]/)
    .filter((p) => p.length > 0)
    .map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1"));
  return `/body/${parts.join("/")}`;
}
