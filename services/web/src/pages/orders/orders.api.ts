import { api, type Schemas, unwrap } from "../../api/client.ts";

export type Product = Schemas["Product"];
export type Order = Schemas["Order"];
export type OrderLine = Schemas["OrderLine"];
export type OrderPage = Schemas["OrderPage"];
export interface NewOrder {
  items: { sku: string; quantity: number }[];
  note?: string;
}

/** The order calls the pages make; every type comes from the generated schema. */
export const ordersApi = {
  /** The validator's catalog (503 while it cannot be reached). */
  products() {
    return unwrap(api.GET("/api/products"));
  },
  list(query: { cursor?: string | undefined; limit?: number }) {
    return unwrap(api.GET("/api/orders", { params: { query } }));
  },
  get(id: string) {
    return unwrap(api.GET("/api/orders/{id}", { params: { path: { id } } }));
  },
  /** The services it went through (GET /api/orders/{id}/journey). */
  journey(id: string) {
    return unwrap(api.GET("/api/orders/{id}/journey", { params: { path: { id } } }));
  },
  /**
   * Validated and priced by the validator (422 with the lines' errors, 503 with Retry-After
   * while it is away). The same `idempotencyKey` again replays the first answer.
   */
  place(body: NewOrder, idempotencyKey: string) {
    return unwrap(
      api.POST("/api/orders", { body, params: { header: { "idempotency-key": idempotencyKey } } }),
    );
  },
};

/** A short, readable name for an order: its id's last 8 characters (the random part). */
export function orderName(order: { id: string }): string {
  return `Order ${order.id.replace(/-/g, "").slice(-8)}`;
}

/** Units in an order (3 keyboards and 2 cables: 5). */
export function unitCount(order: { items: readonly { quantity: number }[] }): number {
  return order.items.reduce((n, line) => n + line.quantity, 0);
}
