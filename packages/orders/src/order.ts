import type { OrderLine, OrderRow } from "@taskflow/db";

export type { OrderLine } from "@taskflow/db";

/** Routing key on the event bus, and `type` in the envelope. */
export const ORDER_CREATED = "order.created";
/** The event stream topic of order events (record key: the order id). */
export const ORDERS_TOPIC = "orders";

/** `data` of an order.created event. */
export interface OrderCreated {
  order_id: string;
  owner_id: string;
  items: OrderLine[];
  total_cents: number;
  currency: string;
  created_at: string;
}

/** An order.created event's data as its producer writes it (consumers check before use). */
export function isOrderCreated(data: unknown): data is OrderCreated {
  if (!data || typeof data !== "object") return false;
  const order = data as Record<string, unknown>;
  return (
    typeof order.order_id === "string" &&
    typeof order.owner_id === "string" &&
    Array.isArray(order.items) &&
    typeof order.total_cents === "number" &&
    typeof order.currency === "string" &&
    typeof order.created_at === "string"
  );
}

/** The public shape of an order (the HTTP contract). */
export interface OrderView {
  id: string;
  status: "CONFIRMED";
  items: OrderLine[];
  total_cents: number;
  currency: string;
  note: string | null;
  created_at: string;
}

export function toOrderView(row: OrderRow): OrderView {
  return {
    id: row.id,
    status: row.status,
    items: row.items,
    total_cents: Number(row.total_cents),
    currency: row.currency,
    note: row.note,
    created_at: row.created_at.toISOString(),
  };
}
